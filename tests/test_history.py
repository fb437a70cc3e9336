"""The history store: an hour per host and GPU in a stated number of bytes, gaps kept as gaps,
values quantised within known bounds, and the ``[history]`` setting."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiconsole import config
from aiconsole.history import (
    GPU_SLOT_BYTES,
    HOST_SLOT_BYTES,
    History,
    bytes_needed,
)
from aiconsole.model import FleetSnapshot, HostSample, HostState

GIB = 2**30


def sample(seq: int, gpus: int = 8, **gpu: Any) -> HostSample:
    """A host sample with ``gpus`` GPUs, each with the ``gpu`` fields given."""
    return msgspec.convert(
        {
            "seq": seq,
            "collected_at": float(seq),
            "identity": {"name": "h", "hostname": "h", "probe_version": "0.1.0"},
            "cpu": {"count": 4, "total_percent": 37.3},
            "memory": {"used_bytes": 300 * GIB},
            "nics": [
                {"name": "eth0", "rx_bytes_per_s": 1e9, "tx_bytes_per_s": 2e9},
                {"name": "bond0", "virtual": True, "rx_bytes_per_s": 1e9},
            ],
            "ib_ports": [
                {"device": "mlx5_0", "port": 1, "rx_bytes_per_s": 2.5e10},
                {"device": "mlx5_1", "port": 1, "rx_bytes_per_s": 2.5e10, "tx_bytes_per_s": 4e10},
            ],
            "gpu": {
                "status": "ok",
                "source": "nvml",
                "gpus": [{"index": i, **gpu} for i in range(gpus)],
            },
        },
        HostSample,
    )


def fleet_at(at: float, seq: int, hosts: int = 1, gpus: int = 8, **gpu: Any) -> FleetSnapshot:
    return FleetSnapshot(
        generated_at=at,
        hosts=tuple(
            HostState(name=f"h{n}", status="ok", received_at=at, sample=sample(seq, gpus, **gpu))
            for n in range(hosts)
        ),
    )


# -- the memory bound ----------------------------------------------------------------------------


def test_an_hour_of_1024_hosts_of_8_gpus_at_one_second_is_217_mb() -> None:
    # Per slot: CPU 1 byte, memory and four rates 2 bytes each; per GPU utilisation and
    # temperature 1 byte, memory and power 2 bytes.
    assert HOST_SLOT_BYTES == 1 + 2 + 4 * 2
    assert GPU_SLOT_BYTES == 1 + 2 + 2 + 1
    assert bytes_needed(1024, 8, 3600, 1.0) == 1024 * 3600 * (11 + 8 * 6) == 217_497_600


def test_the_store_holds_exactly_the_bytes_the_formula_states() -> None:
    history = History(window_s=600, interval_s=2.0)
    for seq in range(3):
        history.record(fleet_at(1000.0 + 2 * seq, seq, hosts=5, gpus=8, util_gpu_percent=10.0))
    assert history.nbytes == bytes_needed(5, 8, 600, 2.0) == 5 * 300 * (11 + 8 * 6)


def test_more_samples_than_the_window_cost_no_more_memory() -> None:
    history = History(window_s=60, interval_s=1.0)
    history.record(fleet_at(0.0, 0))
    first = history.nbytes
    for seq in range(1, 500):
        history.record(fleet_at(float(seq), seq))
    assert history.nbytes == first


def test_a_host_that_left_the_fleet_is_forgotten() -> None:
    history = History(window_s=60)
    history.record(fleet_at(0.0, 0, hosts=3))
    history.record(fleet_at(1.0, 1, hosts=1))
    assert history.gpus("h1") == []
    assert history.nbytes == bytes_needed(1, 8, 60, 1.0)


# -- time, gaps and the window -------------------------------------------------------------------


def test_samples_land_in_their_second_and_missed_seconds_stay_gaps() -> None:
    history = History(window_s=3600)
    for second in [*range(0, 10), *range(20, 30)]:
        history.record(fleet_at(1000.0 + second, second, util_gpu_percent=float(second)))
    values = history.gpu_series("h0", 3, "util", 30, 1029.5).values
    assert len(values) == 30
    assert values[:10] == [float(s) for s in range(10)]
    assert all(math.isnan(v) for v in values[10:20])
    assert values[20:] == [float(s) for s in range(20, 30)]


def test_a_host_gone_quiet_shows_a_gap_up_to_now() -> None:
    history = History(window_s=3600)
    history.record(fleet_at(1000.0, 1, util_gpu_percent=50.0))
    values = history.gpu_series("h0", 0, "util", 60, 1059.0).values
    assert values[0] == 50.0
    assert all(math.isnan(v) for v in values[1:])


def test_the_interval_still_in_progress_is_not_drawn_as_a_gap() -> None:
    history = History(window_s=60)
    history.record(fleet_at(1000.4, 1, util_gpu_percent=30.0))
    series = history.gpu_series("h0", 0, "util", 10, 1001.2)
    assert series.values[-1] == 30.0 and series.end == 1001.0
    # A second later the sample of second 1001 never came: that is a gap, up to now.
    later = history.gpu_series("h0", 0, "util", 10, 1002.2).values
    assert later[-3] == 30.0 and math.isnan(later[-2]) and math.isnan(later[-1])


def test_an_hour_and_a_half_of_samples_keeps_the_last_hour() -> None:
    history = History(window_s=3600)
    for second in range(5400):
        history.record(fleet_at(float(second), second, temperature_c=float(second % 200)))
    values = history.gpu_series("h0", 0, "temperature", 7200, 5399.0).values
    assert len(values) == 3600  # never more than the window
    assert values == [float(s % 200) for s in range(1800, 5400)]


def test_a_console_clock_stepping_back_overwrites_nothing() -> None:
    history = History(window_s=60)
    history.record(fleet_at(100.0, 1, power_draw_w=300.0))
    history.record(fleet_at(50.0, 2, power_draw_w=999.0))
    assert history.gpu_series("h0", 0, "power", 5, 100.0).values[-1] == 300.0


def test_a_lost_gpu_records_gaps_not_zeros() -> None:
    history = History(window_s=60)
    history.record(fleet_at(0.0, 0, util_gpu_percent=80.0))
    history.record(fleet_at(1.0, 1, lost=True, util_gpu_percent=80.0))
    values = history.gpu_series("h0", 0, "util", 2, 1.0).values
    assert values[0] == 80.0 and math.isnan(values[1])


# -- what each metric keeps ----------------------------------------------------------------------


def test_values_come_back_within_their_quantisation() -> None:
    history = History(window_s=60)
    snapshot = fleet_at(
        10.0,
        1,
        util_gpu_percent=37.3,
        memory_used_bytes=int(79.3 * GIB),
        power_draw_w=698.7,
        temperature_c=71.4,
    )
    history.record(snapshot)

    def last(metric: str, gpu: int | None = 0) -> float:
        if gpu is None:
            return history.host_series("h0", metric, 1, 10.0).values[-1]
        return history.gpu_series("h0", gpu, metric, 1, 10.0).values[-1]

    assert last("util") == pytest.approx(37.3, abs=0.25)
    assert last("memory") == pytest.approx(79.3 * GIB, rel=1e-3)
    assert last("power") == pytest.approx(698.7, abs=0.25)
    assert last("temperature") == 71.0
    assert last("cpu", None) == pytest.approx(37.3, abs=0.25)
    assert last("memory", None) == pytest.approx(300 * GIB, rel=1e-3)
    # Physical NICs only (a bond counts its members' traffic again); InfiniBand ports summed.
    assert last("net_rx", None) == pytest.approx(1e9, rel=1e-3)
    assert last("net_tx", None) == pytest.approx(2e9, rel=1e-3)
    assert last("ib_rx", None) == pytest.approx(5e10, rel=1e-3)
    assert last("ib_tx", None) == pytest.approx(4e10, rel=1e-3)


def test_unknown_rates_are_gaps_not_zeros() -> None:
    history = History(window_s=60)
    bare = msgspec.structs.replace(sample(1), nics=(), ib_ports=())
    history.add_sample("h0", bare, 5.0)
    assert math.isnan(history.host_series("h0", "ib_rx", 1, 5.0).values[-1])


def test_out_of_range_values_are_clamped_not_wrapped() -> None:
    history = History(window_s=60)
    history.record(fleet_at(1.0, 1, temperature_c=400.0, util_gpu_percent=250.0))
    assert history.gpu_series("h0", 0, "temperature", 2, 1.0).values[-1] == 254.0
    assert history.gpu_series("h0", 0, "util", 2, 1.0).values[-1] == 127.0


# -- the [history] setting -----------------------------------------------------------------------


def load(tmp_path: Path, text: str) -> config.Inventory:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return config.load(path)


def test_history_window_defaults_to_an_hour_and_is_configurable(tmp_path: Path) -> None:
    assert load(tmp_path, 'hosts = "a"\n').history_window == 3600.0
    assert load(tmp_path, 'hosts = "a"\n[history]\nwindow = "30m"\n').history_window == 1800.0
    assert load(tmp_path, 'hosts = "a"\n[history]\nwindow = 7200\n').history_window == 7200.0


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"1 fortnight"', "must be a duration"),
        ('"1m"', "between 3m and 24h"),
        ('"48h"', "between 3m and 24h"),
        ("true", "must be a duration"),
    ],
)
def test_a_bad_history_window_names_file_line_and_key(
    tmp_path: Path, value: str, problem: str
) -> None:
    with pytest.raises(config.ConfigError) as raised:
        load(tmp_path, f'hosts = "a"\n[history]\nwindow = {value}\n')
    message = str(raised.value)
    assert "config.toml:3: history.window:" in message and problem in message


def test_an_unknown_history_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match=r"history\.points: unknown key"):
        load(tmp_path, 'hosts = "a"\n[history]\npoints = 3\n')
