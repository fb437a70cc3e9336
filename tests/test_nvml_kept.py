"""Which NVML answers the probe keeps between samples, and for how long: what a GPU cannot
change while its driver runs, what it does not support, and the costly energy counter."""

from __future__ import annotations

from typing import Any

import pytest

from aiconsole.probe import Host, NvmlReader, ProcessInfo
from aiconsole.probe.nvml_kept import ENERGY_KEEP_S, FIXED_KEEP_S, NOT_SUPPORTED_KEEP_S
from tests.conftest import NvmlConfig


class Reader:
    """The probe's NVML reader with a clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reader = NvmlReader(ProcessInfo(Host("/")), monotonic=lambda: self.now)

    def gpu0(self) -> dict[str, Any]:
        gpu: dict[str, Any] = self.reader.read()["gpus"][0]
        return gpu


@pytest.mark.parametrize(
    ("key", "before", "after", "field", "seen_before", "seen_after", "keep_s"),
    [
        ("max_sm_clock", 1980, 1755, "sm_clock_max_mhz", 1980, 1755, FIXED_KEEP_S),
        ("pcie_max_width", 16, 8, "pcie_link_width_max", 16, 8, FIXED_KEEP_S),
        ("mig_mode", 0, 1, "mig_enabled", False, True, FIXED_KEEP_S),
        ("energy_mj", 5000, 9000, "energy_j", 5.0, 9.0, ENERGY_KEEP_S),
    ],
)
def test_a_kept_answer_stands_until_its_time_is_up(
    nvml_in_process: NvmlConfig,
    key: str,
    before: int,
    after: int,
    field: str,
    seen_before: object,
    seen_after: object,
    keep_s: float,
) -> None:
    nvml_in_process.set(device_count=1).gpu(0, **{key: before, "util_gpu": 10})
    probe = Reader()
    assert probe.gpu0()[field] == seen_before
    nvml_in_process.gpu(0, **{key: after, "util_gpu": 90})
    probe.now += keep_s - 1
    moved = probe.gpu0()
    assert moved[field] == seen_before  # kept ...
    assert moved["util_gpu_percent"] == 90.0  # ... while what moves is read every time
    probe.now += 1
    assert probe.gpu0()[field] == seen_after


def test_not_supported_is_remembered_and_other_errors_are_not(
    nvml_in_process: NvmlConfig,
) -> None:
    nvml_in_process.set(device_count=1).gpu(0)  # the H100 has no fan: Not Supported
    probe = Reader()
    assert probe.gpu0()["unavailable"]["fan_speed_percent"] == "Not Supported"
    nvml_in_process.gpu(0, fan_speed=40)
    kept = probe.gpu0()
    assert kept["fan_speed_percent"] is None
    assert kept["unavailable"]["fan_speed_percent"] == "Not Supported"
    probe.now += NOT_SUPPORTED_KEEP_S
    assert probe.gpu0()["fan_speed_percent"] == 40.0
    # Any other failure (here NVML_ERROR_UNKNOWN) is asked again on the next sample.
    nvml_in_process.gpu(0, fan_speed="!999")
    failed = probe.gpu0()
    assert failed["unavailable"]["fan_speed_percent"] == "Unknown Error"
    nvml_in_process.gpu(0, fan_speed=45)
    assert probe.gpu0()["fan_speed_percent"] == 45.0


def test_answers_are_kept_per_gpu_not_per_index(nvml_in_process: NvmlConfig) -> None:
    nvml_in_process.set(device_count=1).gpu(0, max_sm_clock=1980)
    probe = Reader()
    assert probe.gpu0()["sm_clock_max_mhz"] == 1980
    # Another board in the same slot (a replaced GPU): its own answers, at once.
    nvml_in_process.gpu(0, uuid="GPU-ffffffff-0000-0000-0000-000000000000", max_sm_clock=1410)
    assert probe.gpu0()["sm_clock_max_mhz"] == 1410
