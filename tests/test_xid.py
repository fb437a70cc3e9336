"""XID events: the stand-in driver's scripted XIDs through NVML's event API, the kernel log's
history, and what the probe says when it cannot read either."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import msgspec

from aiconsole.model import GpuSection
from aiconsole.probe import parse_kernel_log, parse_xid_message, pci_key, xid_name
from tests.conftest import NvmlConfig, probe_without_pynvml, run_aiconsole

KMSG = (
    "6,1201,5000000,-;nvidia-nvlink: Nvlink Core is being initialized\n"
    "4,1202,7250000,-;NVRM: Xid (PCI:0000:19:00): 48, pid=4242, name=python, "
    "An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer\n"
    " SUBSYSTEM=pci\n"
    " DEVICE=+pci:0000:19:00.0\n"
    "4,1203,9000000,-;NVRM: Xid (PCI:0000:c1:00): 79, pid='<unknown>', name=<unknown>, "
    "GPU has fallen off the bus.\n"
)
DMESG = "[ 1234.567890] NVRM: Xid (PCI:0000:3b:00): 63, pid=1, name=init, Row Remapper: new row\n"


def test_kernel_log_records_in_both_formats() -> None:
    records = parse_kernel_log(KMSG + DMESG)
    assert [since_boot for since_boot, _ in records] == [5.0, 7.25, 9.0, 1234.56789]
    key, code, detail = parse_xid_message(records[1][1])  # type: ignore[misc]
    assert (key, code) == ((0, 0x19, 0), 48)
    assert detail.startswith("pid=4242, name=python")
    assert parse_xid_message(records[0][1]) is None
    assert parse_xid_message("NVRM: Xid (PCI:0000:19:00): garbage") is None


# What a local user can get into the kernel log. The kernel starts a segfault line with the
# process's name (at most 15 characters) and "[pid]: " (arch/x86/mm/fault.c), so a process
# named "NVRM: Xid 79,x" or "NVRM: Xid (PCI:" that crashes writes these, at facility 0:
FORGED_BY_NAME = (
    "6,2045,9100000,-;NVRM: Xid 79,x[4242]: segfault at 0 ip 0000000000401126 "
    "sp 00007ffd8a0c4f40 error 6 in forge[401000+1000] likely on CPU 0 (core 0, socket 0)\n"
    "6,2046,9200000,-;NVRM: Xid (PCI:[4243]: segfault at 0 ip 0000000000401126 "
    "sp 00007ffd8a0c4f40 error 6 in forge[401000+1000] likely on CPU 1 (core 1, socket 0)\n"
)
# Root (or anyone allowed to write /dev/kmsg) can write the driver's exact words, but the
# kernel gives every record written there a facility other than 0 (LOG_USER when none):
FORGED_BY_WRITE = (
    "12,2047,9300000,-;NVRM: Xid (PCI:0000:19:00): 79, pid=1, name=x, GPU has fallen off\n"
)
FORGED_DMESG = "[ 9100.000000] NVRM: Xid 79,x[4242]: segfault at 0 ip 0000000000401126\n"


def test_xids_forged_by_a_process_name_or_a_kmsg_write_are_not_xids() -> None:
    messages = [m for _, m in parse_kernel_log(FORGED_BY_NAME + FORGED_BY_WRITE + FORGED_DMESG)]
    assert [parse_xid_message(m) for m in messages] == [None, None, None]
    assert len(messages) == 3  # the user-facility record is not the kernel's: dropped


def test_an_xid_counts_only_at_the_start_of_the_kernels_message() -> None:
    genuine = "NVRM: Xid (PCI:0000:19:00): 48, pid=4242, name=python, DBE"
    assert parse_xid_message(genuine) == ((0, 0x19, 0), 48, "pid=4242, name=python, DBE")
    assert parse_xid_message("audit: comm=x " + genuine) is None
    assert parse_xid_message("NVRM: Xid (PCI:0000:19:00): 48") is None  # no detail: not its form
    assert parse_xid_message("NVRM: Xid (PCI:00 0:19:00): 48, x") is None
    assert parse_xid_message("NVRM: Xid (PCI:0x00:19:00): 48, x") is None
    assert parse_xid_message("NVRM: Xid (PCI:0000:19:00): ４８, x") is None  # not ASCII digits
    # A dmesg -T line: no usable time, the message is still the kernel's.
    ((at, message),) = parse_kernel_log("[Sun Nov 29 10:00:00 2026] " + genuine)
    assert at is None and parse_xid_message(message) is not None
    # A kernel with CONFIG_PRINTK_CALLER names the logging task before the message.
    ((at, message),) = parse_kernel_log("[  812.250000] [ T4242] " + genuine)
    assert at == 812.25 and parse_xid_message(message) is not None
    # A process named like a caller id cannot complete the form: its name is 15 characters.
    ((_, forged),) = parse_kernel_log("[  812.250000] [T1] NVRM: Xid [4242]: segfault at 0")
    assert parse_xid_message(forged) is None


def test_forged_xids_in_the_log_never_reach_a_sample(
    gpu_env: dict[str, str], nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    two_gpus(nvml_config)
    log = tmp_path / "kmsg"
    log.write_text(FORGED_BY_NAME + FORGED_BY_WRITE + KMSG)
    section = one_sample(gpu_env, log)
    assert [event.xid for event in section.xid_events] == [48, 79]  # KMSG's two, no more


def test_pci_addresses_match_however_spelt() -> None:
    assert pci_key("00000000:19:00.0") == pci_key("PCI:0000:19:00") == (0, 0x19, 0)
    assert pci_key("nonsense") is None


def test_xids_are_named() -> None:
    assert xid_name(79) == "GPU has fallen off the bus"
    assert xid_name(48) == "double-bit ECC error"
    assert xid_name(63) == "ECC page retirement or row remap recorded"
    assert xid_name(94) == "contained ECC error"
    assert xid_name(4242) == "XID 4242"


def two_gpus(config: NvmlConfig) -> None:
    config.set(device_count=2)
    config.gpu(0, bus_id="00000000:18:00.0")
    config.gpu(1, bus_id="00000000:19:00.0")


def one_sample(env: dict[str, str], kernel_log: Path) -> GpuSection:
    """The GPU section of one sample of the probe program reading ``kernel_log``."""
    result = subprocess.run(
        [sys.executable, "-m", "aiconsole.probe", "--count", "1", "--kernel-log", str(kernel_log)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return msgspec.convert(json.loads(result.stdout)["gpu"], GpuSection)


class ProbeStream:
    """The probe program streaming samples, read one line at a time."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def next_gpu(self) -> GpuSection:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, self.process.stderr.read() if self.process.stderr else ""
        return msgspec.convert(json.loads(line)["gpu"], GpuSection)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def test_scripted_xid_appears_in_the_next_sample(
    gpu_env: dict[str, str], nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    two_gpus(nvml_config)
    log = tmp_path / "kmsg"
    log.write_text("")
    stream = ProbeStream(
        [sys.executable, "-m", "aiconsole.probe", "--interval", "0.5", "--kernel-log", str(log)],
        gpu_env,
    )
    try:
        first = stream.next_gpu()
        assert first.xid_events == ()
        assert first.unavailable == {}  # both the history and live events are available
        before = time.time()
        nvml_config.gpu(1, bus_id="00000000:19:00.0", xid="79")  # the GPU falls off the bus
        # The event thread is already waiting; the sample after the one in flight has it.
        seen = [stream.next_gpu() for _ in range(2)]
    finally:
        stream.close()
    (event,) = seen[-1].xid_events
    assert (event.xid, event.gpu_index, event.source) == (79, 1, "nvml")
    assert event.name == "GPU has fallen off the bus"
    assert event.bus_id == "00000000:19:00.0"
    assert event.uuid == "GPU-00000001-0000-0000-0000-000000000000"
    assert event.at is not None and event.at >= before


def test_kernel_log_history_is_read_at_start_and_matched_to_gpus(
    gpu_env: dict[str, str], nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    two_gpus(nvml_config)
    log = tmp_path / "kmsg"
    log.write_text(KMSG)
    section = one_sample(gpu_env, log)
    dbe, off_the_bus = section.xid_events
    assert (dbe.xid, dbe.gpu_index, dbe.source) == (48, 1, "kernel_log")
    assert dbe.detail is not None and "double bit error" in dbe.detail
    # An XID on a PCI address none of the GPUs has (a GPU already gone) keeps its address.
    assert (off_the_bus.xid, off_the_bus.gpu_index, off_the_bus.bus_id) == (
        79,
        None,
        "00000000:C1:00.0",
    )
    assert dbe.at is not None and off_the_bus.at is not None
    assert off_the_bus.at - dbe.at == 1.75  # both on the kernel's clock, since boot


def test_unreadable_kernel_log_is_said_and_live_events_still_watched(
    gpu_env: dict[str, str], nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    two_gpus(nvml_config)
    nvml_config.gpu(0, xid="48")
    stream = ProbeStream(
        [
            sys.executable,
            *("-m", "aiconsole.probe", "--interval", "0.3"),
            *("--kernel-log", str(tmp_path / "missing")),
        ],
        gpu_env,
    )
    try:
        sections = [stream.next_gpu() for _ in range(3)]
    finally:
        stream.close()
    reason = sections[-1].unavailable["xid_history"]
    assert "kernel log not readable" in reason and "missing" in reason
    assert "xid_live" not in sections[-1].unavailable
    assert [event.xid for event in sections[-1].xid_events] == [48]


def test_gpu_that_refuses_event_registration_is_named(
    gpu_env: dict[str, str], nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    two_gpus(nvml_config)
    nvml_config.gpu(1, bus_id="00000000:19:00.0", events="!3")
    log = tmp_path / "kmsg"
    log.write_text("")
    section = one_sample(gpu_env, log)
    assert section.unavailable["xid_live"] == "GPU 1: Not Supported"


def test_without_nvml_new_kernel_log_lines_are_the_live_feed(
    smi_env: dict[str, str], nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    two_gpus(nvml_config)
    log = tmp_path / "kmsg"
    log.write_text(KMSG)
    stream = ProbeStream(
        probe_without_pynvml("--interval", "0.5", "--kernel-log", str(log)), smi_env
    )
    try:
        first = stream.next_gpu()
        assert first.source == "nvidia-smi"
        assert [event.xid for event in first.xid_events] == [48, 79]
        with log.open("a") as append:
            append.write("4,1300,9500000,-;NVRM: Xid (PCI:0000:18:00): 94, pid=7, Contained\n")
        latest = [stream.next_gpu() for _ in range(2)][-1]
    finally:
        stream.close()
    assert [event.xid for event in latest.xid_events] == [48, 79, 94]
    assert latest.xid_events[-1].gpu_index == 0


def test_snapshot_json_carries_the_scripted_xid(
    gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    two_gpus(nvml_config)
    nvml_config.gpu(0, bus_id="00000000:18:00.0", xid="79")
    code, stdout, stderr = run_aiconsole("snapshot", "--json", env=gpu_env)
    assert code == 0, stderr
    gpu = json.loads(stdout)["hosts"][0]["sample"]["gpu"]
    assert [(e["xid"], e["gpu_index"], e["source"]) for e in gpu["xid_events"]] == [(79, 0, "nvml")]
