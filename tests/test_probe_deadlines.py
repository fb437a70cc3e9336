"""Calls that can hang (NVML, /proc/PID/cmdline, statvfs) never hang the probe.

Each hang here is real: the stand-in driver sleeps inside the NVML call, a FIFO blocks the
open() of a cmdline file, a statvfs stand-in sleeps. The probe must answer with the reason,
keep reading everything else, and not start a new thread on every sample for a call that
never returns.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aiconsole import probe
from aiconsole.collectors.base import decode_sample
from tests.conftest import FIXTURES, NvmlConfig
from tests.test_probe_parsers import FakeStatvfs, NoGpus

DEADLINE_S = 0.3


def threads_of(runner: probe.DeadlineRunner) -> int:
    """Threads the runner has started (the probe program's own count, as the kernel sees it,
    is checked in test_probe_program_keeps_streaming_with_a_hung_gpu)."""
    return runner.threads_started


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# -- the runner itself -----------------------------------------------------------------------


def test_runner_returns_results_and_raises_errors_of_the_call() -> None:
    runner = probe.DeadlineRunner()
    assert runner.call("k", 5.0, lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(ZeroDivisionError):
        runner.call("k", 5.0, lambda: 1 / 0)
    assert runner.call("other", 5.0, str, 7) == "7"
    assert runner.hung() == 0


def test_runner_reuses_one_thread_for_calls_that_return() -> None:
    runner = probe.DeadlineRunner()
    runner.call("warm", 5.0, int)
    before = threads_of(runner)
    for n in range(50):
        assert runner.call(("key", n % 5), 5.0, abs, -n) == n
    assert threads_of(runner) == before


def test_a_call_that_never_returns_holds_one_thread_not_one_per_sample() -> None:
    runner = probe.DeadlineRunner()
    release = threading.Event()
    runner.call("warm", 5.0, int)
    before = threads_of(runner)
    with pytest.raises(probe.CallTimedOut) as first:
        runner.call("stuck", DEADLINE_S, release.wait)
    assert not first.value.earlier
    assert str(first.value) == f"did not return within {DEADLINE_S:.1f} s"
    for _ in range(20):  # later samples: answered at once, without asking again
        with pytest.raises(probe.CallTimedOut) as again:
            runner.call("stuck", DEADLINE_S, release.wait)
        assert again.value.earlier
        assert runner.call("fine", 5.0, abs, -1) == 1  # other keys still answered
    assert runner.hung() == 1
    assert threads_of(runner) == before + 1  # the stuck call's worker, and one free worker
    release.set()
    assert wait_until(lambda: runner.hung() == 0)
    assert runner.call("stuck", 5.0, lambda: "back") == "back"
    assert threads_of(runner) == before + 1


def test_workers_of_late_calls_are_taken_back_even_if_their_key_is_never_asked_again() -> None:
    runner = probe.DeadlineRunner()
    release = threading.Event()
    runner.call("warm", 5.0, int)
    before = threads_of(runner)
    for pid in range(5):  # five processes whose command lines hang, then exit
        with pytest.raises(probe.CallTimedOut):
            runner.call(("cmdline", pid), DEADLINE_S, release.wait)
    assert threads_of(runner) == before + 4  # the free worker took the first
    release.set()
    assert wait_until(lambda: runner.hung() == 0)
    for n in range(20):
        runner.call(("cmdline", 100 + n), 5.0, int)
    with pytest.raises(probe.CallTimedOut):
        runner.call("again", DEADLINE_S, threading.Event().wait)
    assert threads_of(runner) == before + 4  # the late calls' workers served these: none new


# -- NVML ------------------------------------------------------------------------------------


@pytest.fixture
def three_gpus(nvml_in_process: NvmlConfig) -> Iterator[NvmlConfig]:
    nvml_in_process.set(device_count=3).gpu(0).gpu(1).gpu(2)
    yield nvml_in_process
    nvml_in_process.gpu(1, hang="")  # let a stuck call return before the library is reused


def test_gpu_whose_nvml_call_hangs_is_reported_and_the_others_still_read(
    three_gpus: NvmlConfig,
) -> None:
    runner = probe.DeadlineRunner()
    reader = probe.NvmlReader(
        probe.ProcessInfo(probe.Host("/")), runner=runner, deadline_s=DEADLINE_S
    )
    assert reader.read()["gpus"][1]["util_gpu_percent"] == 87.0
    three_gpus.gpu(1, hang="memory", util_gpu=5)
    threads = None
    for _ in range(5):
        section = reader.read()
        if threads is None:
            threads = threads_of(runner)
        assert threads_of(runner) == threads  # no thread per sample for the GPU that hangs
        first, hung, third = section["gpus"]
        assert section["status"] == "ok"
        assert hung["unavailable"] == {"gpu": f"NVML call did not return within {DEADLINE_S:.1f} s"}
        assert hung.get("util_gpu_percent") is None
        # Its identity from the last good read still says which GPU it is.
        assert (hung["index"], hung["bus_id"]) == (1, "00000000:19:00.0")
        assert hung["uuid"] == "GPU-00000001-0000-0000-0000-000000000000"
        assert first["util_gpu_percent"] == third["util_gpu_percent"] == 87.0
    assert runner.hung() == 1
    three_gpus.gpu(1, hang="", util_gpu=5)  # the driver answers again
    assert wait_until(lambda: runner.hung() == 0)
    assert reader.read()["gpus"][1]["util_gpu_percent"] == 5.0


def test_probe_program_keeps_streaming_with_a_hung_gpu(
    gpu_env: dict[str, str], nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    nvml_config.set(device_count=2).gpu(0).gpu(1, hang="utilization")
    (tmp_path / "kmsg").write_text("")
    command = [
        sys.executable,
        *("-m", "aiconsole.probe", "--interval", "0.2"),
        *("--kernel-log", str(tmp_path / "kmsg")),
    ]
    process = subprocess.Popen(command, env=gpu_env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    tasks = Path(f"/proc/{process.pid}/task")
    try:
        samples = [decode_sample(json.loads(process.stdout.readline())) for _ in range(2)]
        threads = len(list(tasks.iterdir()))
        samples += [decode_sample(json.loads(process.stdout.readline())) for _ in range(5)]
        # The probe's threads as the kernel counts them: none more for the later samples.
        assert len(list(tasks.iterdir())) == threads
    finally:
        process.kill()
        process.wait()
    assert [sample.seq for sample in samples] == list(range(7))
    for sample in samples:
        healthy, hung = sample.gpu.gpus
        assert healthy.util_gpu_percent == 87.0
        assert hung.util_gpu_percent is None
        assert hung.unavailable["gpu"].startswith("NVML call did not return within")


def test_an_nvml_init_that_never_returns_is_an_error_with_its_reason(
    gpu_env: dict[str, str], nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    nvml_config.set(init="hang", device_count=1).gpu(0)
    (tmp_path / "kmsg").write_text("")
    command = [
        sys.executable,
        *("-m", "aiconsole.probe", "--count", "2", "--interval", "0.1"),
        *("--kernel-log", str(tmp_path / "kmsg")),
    ]
    result = subprocess.run(command, env=gpu_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        gpu = decode_sample(json.loads(line)).gpu
        assert gpu.status == "error"
        assert gpu.reason == f"nvmlInit did not return within {probe.NVML_DEADLINE_S:.1f} s"


# -- /proc/PID/cmdline -----------------------------------------------------------------------


@pytest.fixture
def stuck_process(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A /proc tree whose PID 4242 has a cmdline that blocks its reader (a FIFO nobody
    writes), as a real one does while the process holds its memory-map lock."""
    pid_dir = tmp_path / "proc" / "4242"
    pid_dir.mkdir(parents=True)
    (pid_dir / "comm").write_text("trainer\n")
    os.mkfifo(pid_dir / "cmdline")
    yield tmp_path, 4242
    # Unblock any reader still stuck in open() so that its thread ends.
    try:
        fd = os.open(pid_dir / "cmdline", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)


def test_command_line_that_cannot_be_read_in_time_shows_the_process_name(
    stuck_process: tuple[Path, int],
) -> None:
    root, pid = stuck_process
    runner = probe.DeadlineRunner()
    info = probe.ProcessInfo(probe.Host(str(root)), runner=runner)
    assert info.command(pid) == "[trainer]"
    threads = threads_of(runner)
    for _ in range(10):
        assert info.command(pid) == "[trainer]"
    assert threads_of(runner) == threads
    assert runner.hung() == 1


# -- statvfs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fstype", "may_hang"),
    [
        ("nfs4", True),
        ("fuse.sshfs", True),
        ("fuse.rclone", True),  # any FUSE filesystem, named or not
        ("fuse", True),
        ("fuseblk", True),
        ("wekafs", True),
        ("ocfs2", True),
        ("gfs2", True),
        ("someclusterfs", True),  # unknown: asked with a deadline
        ("ext4", False),
        ("xfs", False),
        ("btrfs", False),
        ("overlay", False),
    ],
)
def test_statvfs_rule(fstype: str, may_hang: bool) -> None:
    assert probe.statvfs_may_hang(fstype) is may_hang


def test_hung_fuse_and_cluster_mounts_do_not_hang_the_probe(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "gpuhost" / "t0", root)
    mounts = root / "proc/self/mounts"
    mounts.write_text(
        mounts.read_text()
        + "rclone: /mnt/bucket fuse.rclone rw,nosuid,nodev 0 0\n"
        + "weka01/default /mnt/weka wekafs rw 0 0\n"
    )
    sampler = probe.Sampler(
        root=str(root),
        gpu_reader=NoGpus(),
        statvfs=FakeStatvfs(hung={"/mnt/bucket", "/mnt/weka"}),
    )
    by_mount = {f.mount: f for f in decode_sample(sampler.sample()).filesystems}
    for mount in ("/mnt/bucket", "/mnt/weka"):
        assert by_mount[mount].size_bytes is None
        assert by_mount[mount].unavailable["size_bytes"].startswith("statvfs did not answer")
    assert by_mount["/"].size_bytes == 4096 * 1000  # local ones still read
