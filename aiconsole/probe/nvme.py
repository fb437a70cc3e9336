"""NVMe health: model and firmware from sysfs; the SMART / health log from ``nvme smart-log
-o json`` when nvme-cli is there, else from the admin Get Log Page ioctl when the probe runs
as root, else None with the reason.

The log's layout is the NVMe base specification's (log page 02h, 512 bytes, little endian).
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    JsonDict = Dict[str, Any]
    Runner = Callable[[List[str]], Tuple[int, str]]

NVME = "sys/class/nvme"
LOG_SIZE = 512
# Byte offsets of the 16-byte counters in log page 02h.
COUNTERS = (
    ("data_units_read", 32),
    ("data_units_written", 48),
    ("power_cycles", 112),
    ("power_on_hours", 128),
    ("unsafe_shutdowns", 144),
    ("media_errors", 160),
    ("error_log_entries", 176),
)
CRITICAL_WARNING_BITS = (
    (0, "spare below threshold"),
    (1, "temperature out of range"),
    (2, "reliability degraded"),
    (3, "read-only"),
    (4, "volatile backup failed"),
    (5, "persistent memory read-only"),
)
# nvme-cli's JSON keys (2.x) -> ours.
CLI_KEYS = (
    ("critical_warning", "critical_warning"),
    ("avail_spare", "available_spare_percent"),
    ("spare_thresh", "available_spare_threshold_percent"),
    ("percent_used", "percentage_used"),
    ("data_units_read", "data_units_read"),
    ("data_units_written", "data_units_written"),
    ("power_cycles", "power_cycles"),
    ("power_on_hours", "power_on_hours"),
    ("unsafe_shutdowns", "unsafe_shutdowns"),
    ("media_errors", "media_errors"),
    ("num_err_log_entries", "error_log_entries"),
)


def warnings_of(bits: Optional[int]) -> Optional[List[str]]:
    if bits is None:
        return None
    return [name for bit, name in CRITICAL_WARNING_BITS if bits & (1 << bit)]


def parse_smart_log(data: bytes) -> Optional[JsonDict]:
    """The raw 512-byte health log -> our fields; None if it is not one."""
    if len(data) < LOG_SIZE:
        return None
    warning, kelvin, spare, threshold, used = struct.unpack_from("<BHBBB", data, 0)
    log: JsonDict = {
        "critical_warning": warning,
        "temperature_c": kelvin - 273 if kelvin else None,
        "available_spare_percent": spare,
        "available_spare_threshold_percent": threshold,
        "percentage_used": used,
    }
    for name, offset in COUNTERS:
        low, high = struct.unpack_from("<QQ", data, offset)
        log[name] = low + (high << 64)
    log["warnings"] = warnings_of(warning)
    return log


def parse_cli_json(text: str) -> Optional[JsonDict]:
    """``nvme smart-log -o json`` -> our fields; None if it is not such a document."""
    try:
        import json  # only where nvme-cli answers: json costs start-up on every host

        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict) or "critical_warning" not in document:
        return None
    log: JsonDict = {}
    for theirs, ours in CLI_KEYS:
        value = document.get(theirs)
        if isinstance(value, dict):  # some versions nest the warning bits as an object
            value = value.get("value")
        log[ours] = value if isinstance(value, int) and not isinstance(value, bool) else None
    kelvin = document.get("temperature")
    log["temperature_c"] = kelvin - 273 if isinstance(kelvin, int) and kelvin > 0 else None
    log["warnings"] = warnings_of(log["critical_warning"])
    return log


# NVME_IOCTL_ADMIN_CMD: _IOWR('N', 0x41, struct nvme_admin_cmd), 72 bytes.
NVME_IOCTL_ADMIN_CMD = 0xC0484E41
GET_LOG_PAGE = 0x02


def smart_log_ioctl(device: str) -> Tuple[Optional[bytes], Optional[str]]:
    """Log page 02h through the admin passthrough (root only): (log, None) or (None, why)."""
    try:
        import ctypes
        import fcntl
        import os
    except ImportError as error:  # a host without ctypes
        return None, str(error)
    buffer = ctypes.create_string_buffer(LOG_SIZE)
    numd = LOG_SIZE // 4 - 1  # dwords, zero-based
    command = struct.pack(
        "<BBHIIIQQIIIIIIII",
        # opcode, flags, rsvd, nsid (all), cdw2, cdw3, metadata, addr, metadata_len,
        # data_len, cdw10 (dwords - 1, log id), cdw11-15; timeout and result follow.
        GET_LOG_PAGE,
        0,
        0,
        0xFFFFFFFF,
        0,
        0,
        0,
        ctypes.addressof(buffer),
        0,
        LOG_SIZE,
        (numd << 16) | 0x02,
        0,
        0,
        0,
        0,
        0,
    )
    try:
        fd = os.open(device, os.O_RDONLY)
    except OSError as error:
        return None, "%s: %s" % (device, error.strerror)
    try:
        fcntl.ioctl(fd, NVME_IOCTL_ADMIN_CMD, bytearray(command + b"\0" * 8))
    except OSError as error:
        return None, "admin Get Log Page: %s" % error.strerror
    finally:
        os.close(fd)
    return buffer.raw, None


def controllers(host: Any) -> List[JsonDict]:
    """Every NVMe controller with its identity (no health yet)."""
    found = []
    for name in host.listdir(NVME):
        if not name.startswith("nvme") or not name[4:].isdigit():
            continue
        base = NVME + "/" + name + "/"
        found.append(
            {
                "name": name,
                "model": (host.read(base + "model") or "").strip() or None,
                "serial": (host.read(base + "serial") or "").strip() or None,
                "firmware": (host.read(base + "firmware_rev") or "").strip() or None,
            }
        )
    return found


class NvmeReader:
    def __init__(self, host: Any, run: Runner, is_root: bool, nvme_cli: Optional[str]) -> None:
        self._host = host
        self._run = run
        self._is_root = is_root
        self._nvme_cli = nvme_cli

    def read(self) -> List[JsonDict]:
        drives = []
        for drive in controllers(self._host):
            log, reason = self._health(drive["name"])
            drive["health"] = log
            drive["unavailable"] = {} if log is not None else {"health": reason}
            drives.append(drive)
        return drives

    def _health(self, name: str) -> Tuple[Optional[JsonDict], str]:
        if self._nvme_cli is not None:
            status, output = self._run([self._nvme_cli, "smart-log", "/dev/" + name, "-o", "json"])
            log = parse_cli_json(output) if status == 0 else None
            if log is not None:
                return log, ""
            why = "nvme smart-log: " + (output.strip().splitlines() or ["exit %d" % status])[-1]
        else:
            why = "nvme-cli not installed"
        if not self._is_root:
            return None, why + "; the ioctl needs root"
        data, error = smart_log_ioctl("/dev/" + name)
        parsed = parse_smart_log(data) if data is not None else None
        if parsed is None:
            return None, why + "; " + (error or "short log")
        return parsed, ""
