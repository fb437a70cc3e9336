"""NVIDIA XID errors from the kernel log."""

from __future__ import annotations

import _thread
import os
import time

from aiconsole.probe.common import NVML_DEADLINE_S, _finite, _is_number, clip
from aiconsole.probe.deadline import CallTimedOut, DeadlineRunner

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    from aiconsole.probe.common import JsonDict


# --------------------------------------------------------------------------------------------
# XID events: what the driver says went wrong with a GPU.
# --------------------------------------------------------------------------------------------

XID_NAMES = {
    8: "GPU stopped processing (timeout)",
    13: "graphics engine exception",
    31: "GPU memory page fault",
    32: "invalid or corrupted push buffer stream",
    38: "driver firmware error",
    43: "GPU stopped processing",
    45: "preemptive cleanup after previous errors",
    48: "double-bit ECC error",
    61: "internal micro-controller breakpoint/warning",
    62: "internal micro-controller halt",
    63: "ECC page retirement or row remap recorded",
    64: "ECC page retirement or row remap recording failed",
    68: "video processor exception",
    69: "graphics engine class error",
    74: "NVLink error",
    79: "GPU has fallen off the bus",
    92: "high single-bit ECC error rate",
    94: "contained ECC error",
    95: "uncontained ECC error",
    109: "context switch timeout",
    119: "GSP RPC timeout",
    120: "GSP error",
    121: "C2C link error",
    140: "unrecovered ECC error",
}
"""What an operator needs to know about the common XIDs (NVIDIA's XID catalogue)."""

XID_RECENT_LIMIT = 32
"""Events each sample carries: the newest ones, so a reconnecting console still sees them."""


def xid_name(code: int) -> str:
    return XID_NAMES.get(code, "XID %d" % code)


def pci_key(bus_id: object) -> Optional[Tuple[int, int, int]]:
    """(domain, bus, device) of a PCI address, however it is spelt; None for anything else.

    NVML says ``00000000:3B:00.0``; the kernel log says ``PCI:0000:3b:00``.
    """
    if not isinstance(bus_id, str):
        return None
    text = bus_id[4:] if bus_id.startswith("PCI:") else bus_id
    text = text.split(".", 1)[0]
    parts = text.split(":")
    if len(parts) != 3 or not all(0 < len(part) <= 8 and _is_hex(part) for part in parts):
        return None
    return int(parts[0], 16), int(parts[1], 16), int(parts[2], 16)


def _is_hex(text: str) -> bool:
    return text.isascii() and all(c in "0123456789abcdefABCDEF" for c in text)


def parse_kernel_log(text: str) -> List[Tuple[Optional[float], str]]:
    """(seconds since boot or None, message) of each kernel record of /dev/kmsg or ``dmesg``
    text.

    /dev/kmsg records are ``PRIO,SEQ,USEC,FLAGS;message`` with continuation lines that start
    with a space. PRIO is the syslog facility * 8 + level, and the kernel's own records are
    facility 0: a process writing to /dev/kmsg is always given another one, so its records
    are skipped here. ``dmesg`` lines are ``[ 123.456789] message`` (or ``[Sun Nov 29 ...]``
    with -T: no usable time). Anything else is kept as a message without a time.
    """
    records: List[Tuple[Optional[float], str]] = []
    for line in text.splitlines():
        if not line or line[0] == " ":
            continue  # kmsg continuation (KEY=value dictionary lines)
        header, sep, message = line.partition(";")
        fields = header.split(",")
        if sep and len(fields) >= 4 and _is_number(fields[0]) and _is_number(fields[2]):
            if int(fields[0]) >> 3 == 0:
                records.append((int(fields[2]) / 1e6, message))
            continue
        if line.startswith("[") and "]" in line:
            stamp, _, message = line[1:].partition("]")
            records.append((_finite(stamp), _without_caller(message.strip())))
            continue
        records.append((None, line))
    return records


def _without_caller(message: str) -> str:
    """A dmesg message without the ``[ T123]`` or ``[  C4]`` that kernels built with
    CONFIG_PRINTK_CALLER put before it (the task or CPU that logged it)."""
    if message.startswith("["):
        caller, sep, rest = message[1:].partition("]")
        caller = caller.strip()
        if sep and caller[:1] in ("T", "C") and _is_number(caller[1:]):
            return rest.strip()
    return message


XID_MARKER = "NVRM: Xid ("


def parse_xid_message(message: str) -> Optional[Tuple[Optional[Tuple[int, int, int]], int, str]]:
    """(PCI key, XID, detail) from ``NVRM: Xid (PCI:0000:3b:00): 79, pid=..., ...``.

    Only a message that *starts* with the driver's exact form counts: the kernel starts many
    of its own lines with a process's name (``name[pid]: segfault at ...``), and any user can
    name a process ``NVRM: Xid 79,x``; a name is at most 15 characters and is followed by
    ``[``, so it can never complete ``NVRM: Xid (PCI:<hex address>): <number>,``.
    """
    if not message.startswith(XID_MARKER):
        return None
    address, sep, rest = message[len(XID_MARKER) :].partition("): ")
    key = pci_key(address) if sep else None
    if key is None:
        return None
    code_text, sep, detail = rest.partition(",")
    if not sep or not _is_number(code_text):
        return None
    return key, int(code_text), clip(detail.strip())


class XidLog:
    """The newest XID events of this probe process, shared with the NVML event thread."""

    def __init__(self, limit: int = XID_RECENT_LIMIT) -> None:
        self._limit = limit
        self._events: List[JsonDict] = []
        self._lock = _thread.allocate_lock()

    def add(self, event: JsonDict) -> None:
        with self._lock:
            self._events.append(event)
            self._events.sort(key=lambda e: e["at"] if e["at"] is not None else 0.0)
            del self._events[: -self._limit]

    def recent(self) -> List[JsonDict]:
        with self._lock:
            return list(self._events)


def xid_event(
    gpu: Optional[JsonDict],
    code: int,
    at: Optional[float],
    source: str,
    detail: Optional[str] = None,
) -> JsonDict:
    return {
        "gpu_index": None if gpu is None else gpu.get("index"),
        "bus_id": None if gpu is None else gpu.get("bus_id"),
        "uuid": None if gpu is None else gpu.get("uuid"),
        "xid": code,
        "name": xid_name(code),
        "at": at,
        "source": source,
        "detail": detail or None,
    }


class KernelLogFollower:
    """Reads the kernel log without blocking: all it holds on the first call, then only what
    was added since. XID lines become events matched to GPUs by PCI address.

    /dev/kmsg returns one record per read() and EAGAIN at the end; a record overwritten while
    reading gives EPIPE, which only means "skip ahead". A saved log file reads to EOF.
    """

    def __init__(self, path: str, boot_time: float) -> None:
        self._path = path
        self._boot_time = boot_time
        self._fd: Optional[int] = None
        self.error: Optional[str] = None
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as error:
            self.error = "%s: %s" % (path, error.strerror or error)

    def _read_text(self) -> Optional[str]:
        if self._fd is None:
            return None
        chunks: List[bytes] = []
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            except BrokenPipeError:
                continue
            except OSError as error:
                self.error = "%s: %s" % (self._path, error.strerror or error)
                self.close()
                return None
            if not chunk:
                break
            chunks.append(chunk if chunk.endswith(b"\n") else chunk + b"\n")
        return b"".join(chunks).decode("utf-8", "replace")

    def read_new(self, gpus: List[JsonDict]) -> Optional[List[JsonDict]]:
        """XID events logged since the last call; None when the log cannot be read."""
        text = self._read_text()
        if text is None:
            return None
        # Nearly all of the log is about other things: parse only lines that could be XIDs
        # (the whole log is read at start, and that is paid at every connect).
        text = "\n".join(line for line in text.splitlines() if XID_MARKER in line)
        by_address = {pci_key(gpu.get("bus_id")): gpu for gpu in gpus}
        events = []
        for since_boot, message in parse_kernel_log(text):
            found = parse_xid_message(message)
            if found is None:
                continue
            key, code, detail = found
            at = None if since_boot is None else self._boot_time + since_boot
            gpu = by_address.get(key) if key is not None else None
            event = xid_event(gpu, code, at, "kernel_log", detail)
            if gpu is None and key is not None:
                event["bus_id"] = "%08X:%02X:%02X.0" % key
            events.append(event)
        return events

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class XidWatcher:
    """Waits on NVML's event set for critical XIDs in a thread and logs each one as it comes.

    A blocking wait in a thread (ctypes releases the GIL) reports an XID within the sample
    interval, where polling would need a call per GPU per sample and could still miss one.
    """

    WAIT_MS = 1000

    def __init__(
        self,
        nvml: Any,
        log: XidLog,
        clock: Callable[[], float] = time.time,
        runner: Optional[DeadlineRunner] = None,
        deadline_s: float = NVML_DEADLINE_S,
    ) -> None:
        self._nvml = nvml
        self._log = log
        self._clock = clock
        self._runner = runner if runner is not None else DeadlineRunner()
        self._deadline_s = deadline_s
        self._gpus: Dict[int, JsonDict] = {}
        self.reason: Optional[str] = None
        self._event_set: Any = None

    def start(self, gpus: List[JsonDict]) -> None:
        """Register the GPUs for XID events (with a deadline: a hung driver hangs this too)
        and start waiting for them. GPUs already found hung are left out."""
        answering = [gpu for gpu in gpus if "gpu" not in gpu.get("unavailable", {})]
        try:
            self._runner.call(("xid-events",), self._deadline_s, self._register, answering)
        except CallTimedOut as late:
            self.reason = "registering for XID events %s" % late

    def _register(self, gpus: List[JsonDict]) -> None:
        nvml = self._nvml
        wanted = getattr(nvml, "nvmlEventTypeXidCriticalError", 0x8)
        try:
            self._event_set = nvml.nvmlEventSetCreate()
        except nvml.NVMLError as error:
            self.reason = "NVML event set not available: %s" % error
            return
        refused = []
        for gpu in gpus:
            index = gpu["index"]
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                supported = nvml.nvmlDeviceGetSupportedEventTypes(handle)
                if not supported & wanted:
                    refused.append("GPU %d: XID events not supported" % index)
                    continue
                nvml.nvmlDeviceRegisterEvents(handle, wanted, self._event_set)
            except nvml.NVMLError as error:
                refused.append("GPU %d: %s" % (index, error))
                continue
            self._gpus[index] = gpu
        if refused:
            self.reason = "; ".join(refused)
        if not self._gpus:
            return
        _thread.start_new_thread(self._run, ())

    def _run(self) -> None:
        nvml = self._nvml
        while True:
            try:
                data = nvml.nvmlEventSetWait_v2(self._event_set, self.WAIT_MS)
            except nvml.NVMLError_Timeout:
                continue
            except nvml.NVMLError as error:
                self.reason = "waiting for XID events failed: %s" % error
                time.sleep(self.WAIT_MS / 1000.0)
                continue
            try:
                index: Optional[int] = nvml.nvmlDeviceGetIndex(data.device)
            except nvml.NVMLError:
                index = None
            gpu = self._gpus.get(index) if index is not None else None
            self._log.add(xid_event(gpu, int(data.eventData), self._clock(), "nvml"))
