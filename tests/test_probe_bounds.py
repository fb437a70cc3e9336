"""One sample stays bounded whatever the host's users do: long or non-ASCII command lines,
many processes, hundreds of FUSE mounts or veths. The console refuses a line over its limit,
so an unbounded sample would keep the host in probe_error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiconsole import probe
from aiconsole.collectors import ssh
from aiconsole.collectors.base import decode_sample
from tests.conftest import FIXTURES, NvmlConfig
from tests.test_probe_parsers import FakeStatvfs, NoGpus

GPU_HOST = FIXTURES / "gpuhost"


def json_size(text: str) -> int:
    """Bytes ``text`` takes inside a JSON document as the probe writes it."""
    return len(json.dumps(text)) - 2


def test_the_sample_bound_leaves_room_under_the_consoles_line_limit() -> None:
    assert probe.MAX_SAMPLE_BYTES * 2 <= ssh.MAX_LINE_BYTES


# -- text ------------------------------------------------------------------------------------


@given(st.text(), st.integers(min_value=6, max_value=2048))
def test_clipped_text_fits_its_bound_as_json_and_keeps_its_start(text: str, limit: int) -> None:
    clipped = probe.clip(text, limit)
    assert json_size(clipped) <= limit
    if json_size(text) <= limit:
        assert clipped == text
    else:
        assert clipped.endswith(probe.CLIPPED)
        assert text.startswith(clipped[: -len(probe.CLIPPED)])


def test_clip_counts_escapes_not_characters() -> None:
    assert probe.clip("a" * 256) == "a" * 256
    clipped = probe.clip("é" * 100)  # 600 bytes as JSON
    assert clipped == "é" * 41 + probe.CLIPPED
    assert json_size(clipped) <= probe.MAX_TEXT_BYTES


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(json_values)
def test_the_probes_encoder_writes_what_json_dumps_writes(value: object) -> None:
    assert probe.dumps(value) == json.dumps(value, separators=(",", ":"))


# -- command lines and GPU processes ---------------------------------------------------------


@pytest.fixture
def huge_argv_process() -> Iterator[int]:
    """A process with ~300 KB of argv, half of it non-ASCII (6 bytes each as JSON)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(120)",
            "--data=" + "x" * 100_000,
            "--name=" + "é" * 50_000,
            "--more=" + "y" * 100_000,
        ]
    )
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_one_users_huge_command_line_on_eight_gpus_stays_within_bounds(
    gpu_env: dict[str, str], nvml_config: NvmlConfig, huge_argv_process: int
) -> None:
    nvml_config.set(device_count=8)
    for index in range(8):
        nvml_config.gpu(index, processes=f"{huge_argv_process}:{2**30}")
    result = subprocess.run(
        [sys.executable, "-m", "aiconsole.probe", "--count", "1"],
        env=gpu_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    line = result.stdout.rstrip("\n")
    assert len(line) <= probe.MAX_SAMPLE_BYTES  # without bounds: 8 x ~600 KB
    sample = decode_sample(json.loads(line))
    assert "sample" not in sample.truncated  # the per-field bounds sufficed
    for gpu in sample.gpu.gpus:
        (process,) = gpu.processes
        assert process.pid == huge_argv_process
        assert process.command is not None
        assert process.command.endswith(probe.CLIPPED)
        assert json_size(process.command) <= probe.MAX_COMMAND_BYTES
        assert " -c import time; time.sleep(120) --data=xxx" in process.command


def test_a_gpu_keeps_the_processes_using_the_most_memory(
    gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    # PIDs no process has (as in another PID namespace): /proc says nothing of them.
    many = ",".join(f"{4_000_000 + n}:{(n + 1) * 2**20}" for n in range(40))
    nvml_config.set(device_count=1).gpu(0, processes=many)
    result = subprocess.run(
        [sys.executable, "-m", "aiconsole.probe", "--count", "1"],
        env=gpu_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    sample = decode_sample(json.loads(result.stdout))
    kept = sample.gpu.gpus[0].processes
    assert len(kept) == probe.MAX_PROCESSES_PER_GPU
    assert [p.pid for p in kept] == [4_000_000 + n for n in range(8, 40)]  # the 32 largest
    assert sample.truncated == {"gpu0.processes": "32 of 40 shown (most GPU memory first)"}


def test_many_gpus_share_the_process_budget(tmp_path: Path) -> None:
    gpus: list[dict[str, Any]] = [
        {"index": index, "processes": [(4_000_000 + n, "compute", n) for n in range(20)]}
        for index in range(16)
    ]
    truncated: dict[str, str] = {}
    probe.describe_processes(gpus, probe.ProcessInfo(probe.Host(str(tmp_path))), truncated)
    share = probe.MAX_PROCESSES_PER_SAMPLE // 16
    assert all(len(gpu["processes"]) == share for gpu in gpus)
    assert truncated["gpu15.processes"] == f"{share} of 20 shown (most GPU memory first)"


# -- lists of the host's own things ----------------------------------------------------------


def sample_of(root: Path) -> dict[str, object]:
    sampler = probe.Sampler(root=str(root), gpu_reader=NoGpus(), statvfs=FakeStatvfs())
    return sampler.sample()


def test_hundreds_of_fuse_mounts_neither_crowd_out_real_ones_nor_grow_the_sample(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    shutil.copytree(GPU_HOST / "t0", root)
    mounts = root / "proc/self/mounts"
    # Any user can mount FUSE filesystems, at paths of their choosing.
    user_mounts = "".join(
        f"sshfs#me@box:/ /home/me/m{n}/{'ü' * 300} fuse.sshfs rw 0 0\n" for n in range(500)
    )
    mounts.write_text(user_mounts + mounts.read_text())
    raw = sample_of(root)
    sample = decode_sample(raw)
    assert len(sample.filesystems) == probe.MAX_FILESYSTEMS
    assert {"/", "/boot/efi", "/raid", "/home", "/mnt/scratch space"} <= {
        f.mount for f in sample.filesystems
    }
    assert sample.truncated["filesystems"] == "128 of 505 shown (FUSE last)"
    fuse = next(f for f in sample.filesystems if f.fstype == "fuse.sshfs")
    assert json_size(fuse.mount) <= probe.MAX_TEXT_BYTES and fuse.mount.endswith(probe.CLIPPED)
    assert len(probe.encode_sample(raw)) < probe.MAX_SAMPLE_BYTES // 4


def test_hundreds_of_veths_do_not_crowd_out_the_hosts_nics(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(GPU_HOST / "t0", root)
    net_dev = root / "proc/net/dev"
    zeros = " ".join(["0"] * 16)
    # Calico's interfaces: they sort before eno1 and ib0, so a plain cut would drop those.
    veths = "".join(f"  cali{n:08x}: {zeros}\n" for n in range(300))
    net_dev.write_text(net_dev.read_text() + veths)
    sample = decode_sample(sample_of(root))
    names = [nic.name for nic in sample.nics]
    assert len(names) == probe.MAX_NICS
    assert {"eno1", "ib0"} <= set(names)  # the devices, ahead of any virtual interface
    assert names == sorted(names)
    assert sample.truncated["nics"] == f"{probe.MAX_NICS} of 304 shown (devices first)"


def test_a_jbod_of_disks_is_cut_and_says_so(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(GPU_HOST / "t0", root)
    diskstats = root / "proc/diskstats"
    names = [f"sd{chr(97 + n // 26)}{chr(97 + n % 26)}" for n in range(200)]
    for name in names:
        (root / "sys/block" / name).mkdir()
    zeros = " ".join(["0"] * 14)
    diskstats.write_text(
        diskstats.read_text()
        + "".join(f"   8 {n} {name} {zeros}\n" for n, name in enumerate(names))
    )
    sample = decode_sample(sample_of(root))
    assert len(sample.disks) == probe.MAX_DISKS
    assert sample.truncated["disks"] == f"{probe.MAX_DISKS} of 203 shown"


def test_a_sample_within_bounds_says_nothing_was_cut(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(GPU_HOST / "t0", root)
    raw = sample_of(root)
    assert "truncated" not in raw
    assert decode_sample(raw).truncated == {}


# -- the last line of defence ----------------------------------------------------------------


class HugeGpus:
    """A GPU reader whose answer no per-field bound was written for (64 GPUs, long text)."""

    def read(self) -> dict[str, object]:
        process = {"pid": 1, "kind": "compute", "command": "ö" * 5000, "user": "u" * 5000}
        gpu = {
            "index": 0,
            "name": "n" * 20_000,
            "processes": [process] * 64,
            "unavailable": {"fan_speed_percent": "€" * 5000},
        }
        gpus = [dict(gpu, index=index) for index in range(64)]
        return {"status": "ok", "source": "nvml", "gpus": gpus}


def test_a_sample_over_the_limit_is_cut_to_fit_and_says_so(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(GPU_HOST / "t0", root)
    sampler = probe.Sampler(root=str(root), gpu_reader=HugeGpus(), statvfs=FakeStatvfs())
    raw = sampler.sample()
    size = len(probe.dumps(raw))
    assert size > probe.MAX_SAMPLE_BYTES
    line = probe.encode_sample(raw)
    assert len(line) <= probe.MAX_SAMPLE_BYTES
    sample = decode_sample(json.loads(line))
    assert len(sample.gpu.gpus) == probe.SHRUNK_LIST_ITEMS
    assert len(sample.gpu.gpus[0].processes) == probe.SHRUNK_LIST_ITEMS
    assert sample.truncated["sample"].startswith(f"{size} bytes, over the")
    assert sample.identity.hostname == "gpu-node-07"  # what fits is still there
