"""The probe as the program that runs on hosts: the package bundled as the SSH collector sends
it, this machine's /proc, Python 3.8, the stream."""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from aiconsole import probe, wire
from aiconsole.collectors.base import decode_sample
from aiconsole.collectors.ssh import BOOTSTRAP, PROBE_SOURCE
from tests.conftest import FIXTURES

PACKAGE = Path(probe.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
PROGRAM = wire.bundle(PACKAGE, "aiconsole.probe", "aiconsole.probe.main:main")
"""The probe as one self-contained program (what the SSH collector sends is :data:`SENT`)."""
SENT = wire.unpack(PROBE_SOURCE)


def probe_argv(*args: str, python: str = sys.executable) -> list[str]:
    """The probe as a host runs it: the bootstrap reads the bundled package (its size is the
    first argument) on stdin, and stops the probe when stdin closes."""
    return [python, "-I", "-c", BOOTSTRAP, str(len(PROBE_SOURCE)), *args]


def run_program(
    *args: str, env: dict[str, str], python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    """Send the program as the SSH collector does and keep stdin open until the probe ends
    by itself (closing it would stop the probe, as a dropped connection does)."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        probe_argv(*args, python=python),
        env=env,
        stdin=read_end,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(read_end)
    writer = threading.Thread(target=os.write, args=(write_end, PROBE_SOURCE), daemon=True)
    writer.start()
    try:
        stdout, stderr = process.communicate(timeout=60)
    finally:
        os.close(write_end)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_probe(
    *args: str, env: dict[str, str], python: str = sys.executable
) -> list[dict[str, Any]]:
    result = run_program(*args, env=env, python=python)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_every_module_is_in_the_program_sent_to_hosts() -> None:
    assert len(MODULES) > 10
    for module in MODULES:
        assert module.read_text() in PROGRAM or repr(module.read_text()) in PROGRAM, module
    assert sorted(SENT.sources.values()) == sorted(m.read_text() for m in MODULES)
    assert set(SENT.codes) == set(SENT.sources)


def test_probe_source_parses_with_python_3_8_grammar() -> None:
    for module in MODULES:
        ast.parse(module.read_text(), feature_version=(3, 8))
    ast.parse(PROGRAM, feature_version=(3, 8))
    ast.parse(SENT.program, feature_version=(3, 8))
    ast.parse(BOOTSTRAP, feature_version=(3, 8))


def test_probe_needs_no_newer_python_than_3_8() -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "vermin"),
            "-t=3.8-",
            "--violations",
            "--no-tips",
            "--eval-annotations",
            str(PACKAGE),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_probe_imports_only_the_standard_library(module: Path) -> None:
    tree = ast.parse(module.read_text())
    own = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aiconsole")
    }
    assert all(name.startswith("aiconsole.probe.") for name in own), own
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    # pynvml is imported inside a try: used when the host has it, never required.
    assert imported - {"pynvml", "__future__", "aiconsole"} <= set(sys.stdlib_module_names)


def find_python_3_8() -> str | None:
    """A working Python 3.8, if this machine has one (a pyenv shim may exist but not run)."""
    candidates = [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.8*/bin/python3.8"))]
    candidates += filter(None, [shutil.which("python3.8")])
    for candidate in candidates:
        check = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if check.returncode == 0 and check.stdout.strip() == "(3, 8)":
            return candidate
    return None


PY38 = find_python_3_8()


@pytest.mark.skipif(PY38 is None, reason="no Python 3.8 interpreter on this machine")
def test_probe_runs_under_a_real_python_3_8(no_gpu_env: dict[str, str]) -> None:
    assert PY38 is not None
    samples = run_probe("--count", "2", "--interval", "0.1", env=no_gpu_env, python=PY38)
    sample = decode_sample(samples[1])
    assert sample.identity.python_version is not None
    assert sample.identity.python_version.startswith("3.8")
    assert sample.cpu.total_percent is not None


def test_stream_prints_one_document_per_interval_with_rates_from_the_second(
    no_gpu_env: dict[str, str],
) -> None:
    samples = [
        decode_sample(s) for s in run_probe("--count", "3", "--interval", "0.2", env=no_gpu_env)
    ]
    assert [s.seq for s in samples] == [0, 1, 2]
    assert samples[0].cpu.total_percent is None
    assert all(s.cpu.total_percent is not None for s in samples[1:])
    assert samples[2].collected_at > samples[0].collected_at


def test_values_agree_with_this_machines_proc(no_gpu_env: dict[str, str]) -> None:
    sample = decode_sample(run_probe("--count", "1", env=no_gpu_env)[0])
    meminfo = probe.parse_meminfo(Path("/proc/meminfo").read_text())
    assert sample.memory.total_bytes == meminfo["MemTotal"]
    assert sample.memory.swap_total_bytes == meminfo["SwapTotal"]
    assert sample.cpu.count == len(
        [c for c in probe.parse_proc_stat(Path("/proc/stat").read_text()) if c != "cpu"]
    )
    assert sample.identity.kernel == os.uname().release
    assert sample.identity.hostname == os.uname().nodename
    root = next(f for f in sample.filesystems if f.mount == "/")
    stats = os.statvfs("/")
    assert root.size_bytes == stats.f_blocks * stats.f_frsize
    names = set(probe.parse_net_dev(Path("/proc/net/dev").read_text())) - {"lo"}
    assert {n.name for n in sample.nics} == names


def test_host_without_gpus_reports_no_driver_not_an_error(no_gpu_env: dict[str, str]) -> None:
    sample = decode_sample(
        run_probe("--count", "1", "--root", str(FIXTURES / "plainhost"), env=no_gpu_env)[0]
    )
    assert sample.identity.hostname == "login01"
    assert sample.gpu.status == "no_driver"
    assert sample.gpu.reason is not None and "libnvidia-ml.so.1" in sample.gpu.reason
    assert sample.gpu.gpus == ()
    assert sample.ib_ports == ()
    ens3 = sample.nics[0]
    assert ens3.name == "ens3" and ens3.speed_mbps is None and not ens3.virtual


def test_probe_exits_quietly_when_its_reader_goes_away(no_gpu_env: dict[str, str]) -> None:
    process = subprocess.Popen(
        probe_argv("--interval", "0.05"),
        env=no_gpu_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(PROBE_SOURCE)
    process.stdin.flush()  # stdin stays open: only the reader of the samples goes away
    process.stdout.readline()
    process.stdout.close()  # as when the console stops reading
    assert process.stderr is not None
    assert process.wait(timeout=10) == 0
    stderr = process.stderr.read()
    process.stdin.close()
    assert b"Traceback" not in stderr


class FakeTime:
    """A wall clock that moves only when the probe sleeps or a sample takes time."""

    def __init__(self, start: float, sample_cost: float) -> None:
        self.now = start
        self.sample_cost = sample_cost
        self.sample_times: list[float] = []

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds

    def sample(self) -> dict[str, float]:
        self.sample_times.append(self.now)
        self.now += self.sample_cost
        return {"at": self.sample_times[-1]}


def run_schedule(fake: FakeTime, count: int, interval: float, align: bool) -> list[float]:
    sampler = type("S", (), {"sample": lambda _self: fake.sample()})()
    out = io.StringIO()
    probe.stream(
        sampler, interval, count, out, align=align, clock=lambda: fake.now, sleep=fake.sleep
    )
    assert len(out.getvalue().splitlines()) == count
    return fake.sample_times


def test_aligned_stream_samples_at_once_then_on_wall_clock_multiples() -> None:
    times = run_schedule(FakeTime(start=1000.37, sample_cost=0.05), 4, 1.0, align=True)
    assert times[0] == pytest.approx(1000.37)
    assert times[1:] == pytest.approx([1001.0, 1002.0, 1003.0])


def test_aligned_stream_skips_ticks_when_a_sample_overruns() -> None:
    times = run_schedule(FakeTime(start=10.0, sample_cost=1.5), 3, 1.0, align=True)
    assert times == pytest.approx([10.0, 12.0, 14.0])


def test_unaligned_stream_keeps_a_fixed_spacing_that_does_not_drift() -> None:
    times = run_schedule(FakeTime(start=5.3, sample_cost=0.1), 4, 0.25, align=False)
    assert times == pytest.approx([5.3, 5.55, 5.8, 6.05])


def test_files_kept_open_are_reread_and_reopened_when_replaced(tmp_path: Path) -> None:
    host = probe.Host(str(tmp_path))
    counter = tmp_path / "counter"
    counter.write_text("1\n")
    assert host.read("counter", keep_open=True) == "1\n"
    with counter.open("w") as handle:  # same inode, new content: what procfs/sysfs do
        handle.write("22\n")
    assert host.read("counter", keep_open=True) == "22\n"
    counter.unlink()
    # An open descriptor still reads the old inode; a path that is gone reads as gone once
    # the descriptor is forgotten, and a new file under the name is picked up.
    host.close()
    assert host.read("counter", keep_open=True) is None
    counter.write_text("3\n")
    assert host.read("counter", keep_open=True) == "3\n"
    big = tmp_path / "big"
    big.write_text("x" * (probe.Host.READ_CHUNK * 2 + 7))
    assert len(host.read("big") or "") == probe.Host.READ_CHUNK * 2 + 7


def test_the_number_of_files_kept_open_is_bounded(tmp_path: Path) -> None:
    host = probe.Host(str(tmp_path))
    before = len(os.listdir("/proc/self/fd"))
    for n in range(probe.Host.MAX_OPEN_FILES + 20):
        (tmp_path / f"f{n}").write_text(str(n))
        assert host.read(f"f{n}", keep_open=True) == str(n)
    assert len(os.listdir("/proc/self/fd")) - before == probe.Host.MAX_OPEN_FILES
    host.close()
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interval", "0"], "--interval must be positive"),
        (["--interval", "soon"], "--interval: invalid value 'soon'"),
        (["--count"], "--count needs a value"),
        (["--count", "0"], "--count must be at least 1"),
        (["--nme", "x"], "unrecognised argument '--nme'"),
    ],
)
def test_bad_probe_arguments_exit_2_with_one_line(
    args: list[str], message: str, no_gpu_env: dict[str, str]
) -> None:
    result = run_program(*args, env=no_gpu_env)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == f"aiconsole-probe: {message}"
    assert result.stdout == ""


def test_probe_options_in_both_spellings() -> None:
    options = probe.parse_args(
        ["--interval=0.5", "--name", "gpu01", "--align", "--count", "3", "--kernel-log=/x"]
    )
    assert options == {
        "interval": 0.5,
        "count": 3,
        "name": "gpu01",
        "root": "/",
        "align": True,
        "kernel_log": "/x",
    }


def test_probe_start_up_imports_only_what_it_needs(no_gpu_env: dict[str, str]) -> None:
    """Start-up is paid on every host at every connect: keep heavy modules out of it."""
    code = (
        "import sys\nsys.argv = ['probe', '--count', '1']\n"
        "try:\n"
        "    exec(compile(sys.stdin.read(), 'probe', 'exec'))\n"
        "finally:\n"
        "    print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    # -S: no site-packages, so the list holds the probe's own imports (no pynvml, no .pth).
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        input=PROGRAM,
        env=no_gpu_env,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(result.stderr.split())
    assert {"pwd", "_json"} <= loaded  # the list is real
    # json (with re, enum, functools) was a third of the start-up: _json's encoder does.
    heavy = {"argparse", "typing", "platform", "socket", "threading", "contextlib", "json", "re"}
    assert not loaded & heavy


def test_a_host_compiles_only_the_readers_for_what_it_has(no_gpu_env: dict[str, str]) -> None:
    """Every module compiled is start-up paid at every connect: a host with no GPU, no NVMe
    and no shared mount never compiles the readers for those."""
    root = str(FIXTURES / "plainhost")
    code = (
        f"import sys\nsys.argv = ['probe', '--count', '1', '--root', {root!r}]\n"
        "try:\n"
        "    exec(compile(sys.stdin.read(), 'probe', 'exec'))\n"
        "finally:\n"
        "    print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        input=PROGRAM,
        env=no_gpu_env,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = {name for name in result.stderr.split() if name.startswith("aiconsole.probe.")}
    assert {"aiconsole.probe.sampler", "aiconsole.probe.nvml"} <= loaded  # the list is real
    readers = ("smi", "xid", "amd", "amd_smi", "drm_clients", "gaudi", "nvme", "mounts", "cgroup")
    assert not loaded & {"aiconsole.probe." + name for name in readers}
