"""Property tests: the probe's parsers of text from outside (/proc and /sys files, the kernel
log, nvidia-smi's CSV, /proc/mounts) take any text without raising. What they cannot read is
a skipped line or None (a reason in the sample), and what they return is valid JSON (no NaN,
no infinity) that the console's model accepts."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiconsole import probe
from aiconsole.collectors.base import decode_sample
from aiconsole.model import Gpu
from aiconsole.probe.smi import _smi_reasons
from tests.conftest import FIXTURES
from tests.test_probe_parsers import FakeStatvfs, NoGpus

# Words that reach the parsers' corners: numbers of every spelling float() and int() take or
# refuse, the markers the parsers look for, separators they split on.
TRICKY = [
    "cpu",
    "cpu0",
    "cpu12",
    "cpux",
    "MemTotal:",
    "kB",
    "Uid:",
    "0",
    "17",
    "-1",
    "1_000",
    "²",
    "١٢",
    "nan",
    "inf",
    "-infinity",
    "1e999",
    "0x1f",
    "P2",
    "[N/A]",
    "Enabled",
    "Yes",
    "GPU is lost",
    "device handle",
    "NVRM: Xid (",
    "PCI:0000:3b:00",
    "): ",
    "79,",
    "[",
    "]",
    ";",
    ",",
    ":",
    "\\040",
    "\x00",
    "\t",
]
words = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12))
lines = st.lists(words, max_size=14).map(" ".join)
hostile = st.one_of(st.text(), st.lists(lines, max_size=12).map("\n".join))


def valid_json(value: object) -> None:
    """What the probe emits must be JSON the console parses: no NaN or infinity."""
    json.dumps(value, allow_nan=False)


@given(hostile)
def test_proc_stat(text: str) -> None:
    for name, (total, idle) in probe.parse_proc_stat(text).items():
        assert name == "cpu" or name[3:].isdigit()
        assert isinstance(total, int) and isinstance(idle, int)


@given(hostile)
def test_loadavg_and_uptime(text: str) -> None:
    loads = probe.parse_loadavg(text)
    assert loads is None or all(math.isfinite(load) for load in loads)
    uptime = probe.parse_uptime(text)
    assert uptime is None or math.isfinite(uptime)


@given(hostile)
def test_meminfo_diskstats_net_dev(text: str) -> None:
    assert all(isinstance(v, int) for v in probe.parse_meminfo(text).values())
    for counters in probe.parse_diskstats(text).values():
        assert all(isinstance(v, int) for v in counters)
    for nic in probe.parse_net_dev(text).values():
        assert set(nic) == set(probe.NET_DEV_FIELDS)


@given(hostile)
def test_mounts(text: str) -> None:
    for device, mount, fstype in probe.parse_mounts(text):
        assert fstype not in probe.PSEUDO_FSTYPES
        assert isinstance(device, str) and isinstance(mount, str)


@given(hostile)
def test_small_sysfs_and_proc_files(text: str) -> None:
    assert isinstance(probe.parse_ib_state(text), str)
    rate = probe.parse_ib_rate(text)
    assert rate is None or math.isfinite(rate)
    uid = probe.parse_uid(text)
    assert uid is None or uid >= 0


@given(hostile)
def test_kernel_log_and_xid_lines(text: str) -> None:
    for at, message in probe.parse_kernel_log(text):
        assert at is None or math.isfinite(at)
        found = probe.parse_xid_message(message)
        if found is not None:
            key, code, detail = found
            assert message.startswith(probe.XID_MARKER)
            assert key is not None and code >= 0
            assert len(json.dumps(detail)) - 2 <= probe.MAX_TEXT_BYTES


@given(st.one_of(st.text(), st.sampled_from(TRICKY)))
def test_pci_addresses(text: str) -> None:
    key = probe.pci_key(text)
    assert key is None or all(isinstance(part, int) and part >= 0 for part in key)


FULL_QUERY: list[tuple[str, str, Callable[[str], Any]]] = [
    (field, names[0], convert) for field, names, convert in probe.SMI_GPU_FIELDS
]


@given(hostile)
def test_nvidia_smi_csv(text: str) -> None:
    gpus, driver = probe.parse_smi_gpus(text, FULL_QUERY, {})
    valid_json(gpus)
    for gpu in gpus:
        msgspec.convert(gpu, Gpu)
    assert driver is None or isinstance(driver, str)
    rejected = probe.parse_smi_rejected_field(text)
    assert rejected is None or isinstance(rejected, str)


csv_rows = st.lists(
    st.lists(st.sampled_from(TRICKY), min_size=len(FULL_QUERY), max_size=len(FULL_QUERY)).map(
        ", ".join
    ),
    max_size=4,
).map("\n".join)


@given(csv_rows)
def test_nvidia_smi_rows_of_the_right_width(text: str) -> None:
    """Rows with every column present, each value anything: converters never raise."""
    gpus, _ = probe.parse_smi_gpus(text, FULL_QUERY, {})
    valid_json(gpus)
    for gpu in gpus:
        msgspec.convert(gpu, Gpu)


HOST_FILES = [
    "proc/stat",
    "proc/loadavg",
    "proc/uptime",
    "proc/meminfo",
    "proc/diskstats",
    "proc/net/dev",
    "proc/self/mounts",
    "proc/sys/kernel/hostname",
    "sys/class/infiniband/mlx5_0/ports/1/rate",
    "sys/class/infiniband/mlx5_0/ports/1/counters/port_rcv_data",
    "sys/class/net/eno1/speed",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile, min_size=len(HOST_FILES), max_size=len(HOST_FILES)))
def test_a_whole_host_of_hostile_files_still_gives_samples_the_console_accepts(
    contents: list[str],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        shutil.copytree(FIXTURES / "gpuhost" / "t0", root)
        sampler = probe.Sampler(root=str(root), gpu_reader=NoGpus(), statvfs=FakeStatvfs())
        sampler.sample()
        for relative, text in zip(HOST_FILES, contents, strict=True):
            (root / relative).write_text(text, errors="surrogateescape")
        for _ in range(2):  # the second sample computes rates against the first
            line = probe.encode_sample(sampler.sample())
            decode_sample(json.loads(line, parse_constant=not_json))


def not_json(constant: str) -> None:
    raise AssertionError(f"the probe wrote {constant}, which JSON has not")


def test_a_negative_clock_event_mask_is_refused_not_expanded_forever() -> None:
    unavailable: dict[str, str] = {}
    assert probe.smi_value("-1", _smi_reasons, "clock_event_reasons", unavailable) is None
    assert unavailable == {"clock_event_reasons": "nvidia-smi printed '-1'"}
    assert len(probe.clock_event_names(-1)) == 64  # 64 bits at most, whatever the int
