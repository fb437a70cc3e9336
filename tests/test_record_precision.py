"""A recording keeps measurements at the precision they are shown at, and still reads the
files written before it rounded anything."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiconsole.model import FleetSnapshot
from aiconsole.recording import Recording, RecordingWriter
from aiconsole.recording import writer as writer_module
from aiconsole.recording.precision import THREE_DIGITS, quantize
from tests.moving_fleet import MovingFleet

OLD = Path(__file__).parent / "fixtures" / "recording"


def digits(value: float) -> int:
    """Significant decimal digits of ``value`` as JSON writes it."""
    mantissa = repr(value).partition("e")[0].replace(".", "").replace("-", "").strip("0")
    return len(mantissa)


def tree() -> dict[str, Any]:
    process = {"pid": 7, "rss_bytes": 123_456_789, "cpu_percent": 12.3, "command": "x 1.23456"}
    gpu = {
        "power_draw_w": 312.456,
        "energy_j": 98_765.4321,
        "energy_session_j": 4_321.987,
        "memory_used_bytes": 9_441_378_304,
        "memory_total_bytes": 85_899_345_920,
        "temperature_c": 61.0,
        "processes": [process],
    }
    sample = {
        "collected_at": 1_795_000_000.123456,
        "probe_cpu_s": 0.2345678,
        "memory": {"used_bytes": 219_012_345_678, "total_bytes": 2_164_111_212_544},
        "nics": [{"name": "eth0", "rx_bytes_per_s": 123_456_789.01234567, "rx_errors": 3}],
        "disks": [{"name": "nvme0n1", "read_iops": 1234.5678, "write_bytes_per_s": 0.0}],
        "gpu": {"gpus": (gpu,)},
    }
    host = {"name": "h", "received_at": 1_795_000_000.987654, "age_s": 0.4321, "sample": sample}
    return {"generated_at": 1_795_000_001.5555555, "hosts": (host,)}


def test_rates_gauges_counters_and_clocks_are_rounded_to_what_is_shown() -> None:
    rounded = quantize(tree())
    host = rounded["hosts"][0]
    sample = host["sample"]
    gpu = sample["gpu"]["gpus"][0]
    assert sample["nics"][0]["rx_bytes_per_s"] == 123_000_000.0
    assert sample["disks"][0] == {"name": "nvme0n1", "read_iops": 1230.0, "write_bytes_per_s": 0.0}
    assert sample["memory"] == {"used_bytes": 219_000_000_000, "total_bytes": 2_164_111_212_544}
    assert (gpu["power_draw_w"], gpu["energy_j"], gpu["energy_session_j"]) == (
        312.5,
        98765.0,
        4322.0,
    )
    assert (gpu["memory_used_bytes"], gpu["memory_total_bytes"]) == (9_440_000_000, 85_899_345_920)
    assert gpu["processes"][0] == {
        "pid": 7,
        "rss_bytes": 123_000_000,
        "cpu_percent": 12.3,
        "command": "x 1.23456",  # text is never touched
    }
    assert (sample["collected_at"], sample["probe_cpu_s"]) == (1_795_000_000.123, 0.235)
    assert (host["received_at"], host["age_s"]) == (1_795_000_000.988, 0.4)
    assert rounded["generated_at"] == 1_795_000_001.556
    assert sample["nics"][0]["rx_errors"] == 3 and type(sample["memory"]["used_bytes"]) is int


@given(st.floats(min_value=1e-6, max_value=1e18) | st.integers(min_value=1, max_value=10**18))
def test_three_digits_stay_within_half_a_percent_and_keep_the_type(value: float) -> None:
    rounded = THREE_DIGITS(value)
    assert type(rounded) is type(value)
    assert abs(rounded - value) <= 0.005 * abs(value) + (0.5 if type(value) is int else 0)
    if type(value) is float:
        assert digits(rounded) <= 3


def test_odd_values_pass_through() -> None:
    odd = {"generated_at": None, "hosts": ({"name": "h", "sample": None}, "not a host")}
    assert quantize(odd) == {
        "generated_at": None,
        "hosts": ({"name": "h", "sample": None}, "not a host"),
    }
    assert THREE_DIGITS(0.0) == 0.0 and THREE_DIGITS(-1234.5) == -1230.0
    assert THREE_DIGITS(True) is True and math.isnan(THREE_DIGITS(math.nan))


def busiest_rate(snapshot: FleetSnapshot) -> float:
    sample = snapshot.hosts[0].sample
    assert sample is not None
    return max(nic.rx_bytes_per_s or 0.0 for nic in sample.nics)


def write(path: Path, snapshots: list[FleetSnapshot]) -> int:
    writer = RecordingWriter(path, chunk_frames=30)
    for snapshot in snapshots:
        writer.add(snapshot)
    return writer.close()


def test_the_writer_rounds_and_the_file_is_a_third_smaller_or_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = MovingFleet(6, seed=3)
    snapshots = [fleet.step() for _ in range(30)]
    rounded = write(tmp_path / "rounded.aicrec", snapshots)
    with Recording(tmp_path / "rounded.aicrec") as recording:
        assert digits(busiest_rate(recording.snapshot(12))) <= 3
    assert digits(busiest_rate(snapshots[12])) > 3  # the fleet reports every digit
    monkeypatch.setattr(writer_module, "quantize", lambda tree: tree)  # every digit kept
    exact = write(tmp_path / "exact.aicrec", snapshots)
    assert rounded * 3 < exact * 2  # 2.6 times smaller at 256 hosts x 5-minute chunks


def test_a_recording_written_before_the_rounding_reads_every_digit_back() -> None:
    """Written by the previous writer (same format version, nothing rounded)."""
    expected = msgspec.json.decode((OLD / "v1-exact-frame7.json").read_bytes(), type=FleetSnapshot)
    with Recording(OLD / "v1-exact.aicrec") as recording:
        assert len(recording.times) == 12 and len(recording.chunks) == 3
        assert recording.snapshot(7) == expected
        assert digits(busiest_rate(recording.snapshot(7))) > 3
        assert recording.header.version == 1
