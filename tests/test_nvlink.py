"""NVLink data rates per link: NVML field values through the unmodified pynvml and the
stand-in driver library."""

from __future__ import annotations

import json

import msgspec

from aiconsole.model import GpuSection, nvlink_totals
from aiconsole.probe import Host, NvmlReader, ProcessInfo
from aiconsole.probe.common import FIRST_SAMPLE
from tests.conftest import NvmlConfig, run_aiconsole


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_link_rates_come_from_the_counters_between_two_samples(
    nvml_in_process: NvmlConfig,
) -> None:
    nvml_in_process.set(device_count=1).gpu(
        0, nvlink="1,1,0", nvlink_rx_kib="1000,50,0", nvlink_tx_kib="100,70,0"
    )
    clock = Clock()
    reader = NvmlReader(ProcessInfo(Host("/")), monotonic=clock)
    first = msgspec.convert(reader.read(), GpuSection).gpus[0]
    assert first.nvlink_links is not None
    assert [(link.link, link.up) for link in first.nvlink_links] == [
        (0, True),
        (1, True),
        (2, False),
    ]
    assert first.nvlink_links[0].rx_bytes_per_s is None
    assert first.nvlink_links[0].unavailable["rx_bytes_per_s"] == FIRST_SAMPLE
    assert first.nvlink_links[2].unavailable["tx_bytes_per_s"] == "link is down"

    clock.now += 2.0
    nvml_in_process.gpu(0, nvlink="1,1,0", nvlink_rx_kib="3048,50,0", nvlink_tx_kib="300,20,0")
    second = msgspec.convert(reader.read(), GpuSection).gpus[0]
    assert second.nvlink_links is not None
    link0, link1, link2 = second.nvlink_links
    assert (link0.rx_bytes_per_s, link0.tx_bytes_per_s) == (1024 * 1024.0, 100 * 1024.0)
    assert link1.rx_bytes_per_s == 0.0
    assert link1.tx_bytes_per_s is None  # 70 -> 20 KiB: the counter went backwards
    assert "backwards" in link1.unavailable["tx_bytes_per_s"]
    assert (link2.rx_bytes_per_s, link2.tx_bytes_per_s) == (None, None)
    assert nvlink_totals(second.nvlink_links) == (1024 * 1024.0, 100 * 1024.0)


def test_a_driver_without_the_counters_gives_none_with_its_reason(
    nvml_in_process: NvmlConfig,
) -> None:
    # gpu0: the whole call fails (an old driver); gpu1: the call works but the RX counter of
    # each link is Not Supported, reported per value; gpu2: no NVLink at all.
    nvml_in_process.set(device_count=3)
    nvml_in_process.gpu(0, nvlink="1,1", nvlink_tx_kib="1,2", field_values="!3")
    nvml_in_process.gpu(1, nvlink="1,1", nvlink_tx_kib="1,2")
    nvml_in_process.gpu(2, nvlink="!3")
    clock = Clock()
    reader = NvmlReader(ProcessInfo(Host("/")), monotonic=clock)
    reader.read()
    clock.now += 1.0
    old, partial, none = msgspec.convert(reader.read(), GpuSection).gpus
    assert old.nvlink_links is None
    assert old.unavailable["nvlink_links"] == "NVLink counters: Not Supported"
    assert old.nvlink_links_total == 2  # the link states are still read
    assert partial.nvlink_links is not None
    for link in partial.nvlink_links:
        assert link.rx_bytes_per_s is None
        assert link.unavailable["rx_bytes_per_s"] == "Not Supported"
        assert link.tx_bytes_per_s == 0.0
    assert nvlink_totals(partial.nvlink_links) == (None, 0.0)
    assert none.nvlink_links is None
    assert none.unavailable["nvlink_links"] == "no NVLink (Not Supported)"


def test_snapshot_json_shows_each_links_rates(
    gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    nvml_config.set(device_count=1).gpu(0, nvlink="1,0", nvlink_rx_kib="5,0", nvlink_tx_kib="9,0")
    code, stdout, stderr = run_aiconsole("snapshot", "--json", env=gpu_env)
    assert code == 0, stderr
    gpu = json.loads(stdout)["hosts"][0]["sample"]["gpu"]["gpus"][0]
    up, down = gpu["nvlink_links"]
    # Two samples, counters unchanged between them: zero bytes per second, not unknown.
    assert (up["link"], up["up"], up["rx_bytes_per_s"], up["tx_bytes_per_s"]) == (0, True, 0.0, 0.0)
    assert (down["link"], down["up"], down["rx_bytes_per_s"]) == (1, False, None)
    assert down["unavailable"]["rx_bytes_per_s"] == "link is down"


def test_each_counter_keeps_its_own_reason_and_other_fields_are_not_supported(
    nvml_in_process: NvmlConfig,
) -> None:
    import pynvml

    # gpu0's link 1 has an RX counter but no TX counter: only its TX rate is unknown. gpu1's
    # RX counters fail with one error (2: Invalid Argument) and its TX counters with another.
    nvml_in_process.set(device_count=2)
    nvml_in_process.gpu(0, nvlink="1,1", nvlink_rx_kib="1,2", nvlink_tx_kib="3")
    nvml_in_process.gpu(1, nvlink="1", nvlink_rx_kib="!2")
    clock = Clock()
    reader = NvmlReader(ProcessInfo(Host("/")), monotonic=clock)
    reader.read()
    clock.now += 1.0
    first, second = msgspec.convert(reader.read(), GpuSection).gpus
    links = first.nvlink_links
    assert links is not None and second.nvlink_links is not None
    assert (links[1].rx_bytes_per_s, links[1].tx_bytes_per_s) == (0.0, None)
    assert links[1].unavailable == {"tx_bytes_per_s": "Not Supported"}
    assert second.nvlink_links[0].unavailable == {
        "rx_bytes_per_s": "Invalid Argument",
        "tx_bytes_per_s": "Not Supported",
    }
    # The stand-in answers each value on its own, as the driver does: a field id it does not
    # keep is Not Supported in that value while the call itself succeeds.
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    other, tx = pynvml.nvmlDeviceGetFieldValues(
        handle, [(pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT, 0), (138, 0)]
    )
    assert (other.nvmlReturn, tx.nvmlReturn, tx.value.ullVal) == (3, 0, 3)
