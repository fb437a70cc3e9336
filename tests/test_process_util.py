"""Per-process SM utilisation from NVML's process samples, through the unmodified pynvml."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from aiconsole.collectors.base import decode_sample
from tests.conftest import NvmlConfig
from tests.test_gpu_stand_in import probe_output


@pytest.fixture
def second_process() -> Iterator[int]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child.pid
    child.kill()
    child.wait()


def microseconds_ago(seconds: float) -> int:
    return int((time.time() - seconds) * 1e6)


def processes_of_gpu0(env: dict[str, str]) -> tuple[dict[int, float | None], dict[str, str]]:
    gpu = decode_sample(probe_output(env)).gpu.gpus[0]
    return {p.pid: p.gpu_util_percent for p in gpu.processes}, dict(gpu.unavailable)


def test_each_process_reads_its_mean_over_the_last_second_and_an_idle_one_reads_zero(
    gpu_env: dict[str, str], nvml_config: NvmlConfig, second_process: int
) -> None:
    me = os.getpid()
    # Two samples of this process in the window, one long gone that must not count, and a
    # third PID NVML knows of but that holds no GPU memory (not listed as a process).
    samples = [
        f"{me}:80:30:{microseconds_ago(0.5)}",
        f"{me}:90:30:{microseconds_ago(0.2)}",
        f"{second_process}:100:50:{microseconds_ago(30)}",
        f"99999:40:10:{microseconds_ago(0.1)}",
    ]
    nvml_config.set(device_count=1)
    nvml_config.gpu(
        0,
        processes=f"{me}:{2 * 1024**3},{second_process}:{1024**3}",
        process_util=",".join(samples),
    )
    utilisation, unavailable = processes_of_gpu0(gpu_env)
    assert utilisation == {me: 85.0, second_process: 0.0}
    assert "processes.gpu_util_percent" not in unavailable


@pytest.mark.parametrize(
    ("samples", "expected", "reason"),
    [
        # NVML has samples, none in the last second: the process was idle.
        ("{me}:70:1:{long_ago}", 0.0, None),
        # A driver without per-process samples (process_util unset: Not Supported).
        (None, None, "Not Supported"),
    ],
)
def test_without_a_recent_sample_a_process_is_idle_or_unknown_with_the_reason(
    gpu_env: dict[str, str],
    nvml_config: NvmlConfig,
    samples: str | None,
    expected: float | None,
    reason: str | None,
) -> None:
    me = os.getpid()
    nvml_config.set(device_count=1)
    nvml_config.gpu(0, processes=f"{me}:{1024**3}")
    if samples is not None:
        nvml_config.gpu(0, process_util=samples.format(me=me, long_ago=microseconds_ago(9)))
    utilisation, unavailable = processes_of_gpu0(gpu_env)
    assert utilisation == {me: expected}
    assert unavailable.get("processes.gpu_util_percent") == reason
