"""Limits, reasons and small helpers shared by every part of the probe."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    JsonDict = Dict[str, Any]
    RawProcess = Tuple[int, str, Optional[int]]  # pid, "compute" or "graphics", GPU memory


PROBE_VERSION = "0.1.0"

KERNEL_LOG = "/dev/kmsg"  # XID history and, without NVML, new XIDs

SECTOR_BYTES = 512  # /proc/diskstats always counts 512-byte sectors, whatever the device's
FIRST_SAMPLE = "first sample: rates need two samples"
COUNTER_RESET = "counter went backwards (reset or wrapped)"

# Deadlines for calls that can block in the kernel or the driver for minutes: statvfs on a
# mount whose server is gone, NVML on a sick GPU, /proc/PID/cmdline of a process stuck with
# its memory map locked. Each runs in a worker thread (see DeadlineRunner).
NETWORK_STATVFS_TIMEOUT_S = 0.5
NVML_DEADLINE_S = 2.0
CMDLINE_DEADLINE_S = 0.5

# Bounds on what one sample carries. Users of a host control some of its text (command lines,
# FUSE mount points, process names) and some of its lists (processes, mounts), and the console
# refuses a line over its limit, so without bounds one user could keep a host in probe_error.
# Text is bounded by its size as JSON, escapes included (clip()); lists keep the entries an
# operator needs first and say in the sample's "truncated" map what was left out.
MAX_TEXT_BYTES = 256  # a name, path, state, reason or kernel-log detail
MAX_COMMAND_BYTES = 1024  # a GPU process's command line
MAX_GPUS = 64
MAX_PROCESSES_PER_GPU = 32  # those using the most GPU memory
MAX_PROCESSES_PER_SAMPLE = 256  # shared out evenly when a host has many GPUs
MAX_FILESYSTEMS = 128  # local and network mounts before FUSE ones, in mount order
MAX_DISKS = 128
MAX_NICS = 128  # devices before virtual interfaces
MAX_IB_PORTS = 64
MAX_SAMPLE_BYTES = 1024 * 1024
"""The last line of defence: a sample whose JSON is longer than this (half the console's
line limit) is sent with every list cut short and all text clipped (see shrink_sample)."""
SHRUNK_LIST_ITEMS = 8
SHRUNK_TEXT_BYTES = 64

# --------------------------------------------------------------------------------------------
# Parsers: text in, plain data out. No I/O, so recorded files test them exactly.
# --------------------------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    """Digits only, ASCII ones (str.isdigit also takes "²", which int() refuses)."""
    return text.isascii() and text.isdigit()


def _finite(text: str) -> Optional[float]:
    """A finite number, or None (float() also takes "nan" and "inf", which JSON has not)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value - value == 0.0 else None


# --------------------------------------------------------------------------------------------
# Reading the host
# --------------------------------------------------------------------------------------------


def _rate(
    current: int,
    previous: Optional[int],
    seconds: float,
) -> Tuple[Optional[float], Optional[str]]:
    """Per-second rate of a cumulative counter, or (None, reason)."""
    if previous is None or seconds <= 0:
        return None, FIRST_SAMPLE
    if current < previous:
        return None, COUNTER_RESET
    return (current - previous) / seconds, None


def _json_text(text: str) -> str:
    """``text`` as a JSON string literal, ``\\u`` escapes and quotes included."""
    try:
        from _json import encode_basestring_ascii
    except ImportError:  # an interpreter without the C accelerator
        from json.encoder import py_encode_basestring_ascii as encode_basestring_ascii
    return encode_basestring_ascii(text)  # type: ignore[no-any-return, unused-ignore]


CLIPPED = "\u2026"  # the ellipsis that says text was cut


def clip(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    """``text`` cut so that it takes at most ``limit`` bytes as JSON, ending in an ellipsis.

    The bound is on the escaped size because that is what goes on the wire: a control or
    non-ASCII character is 6 bytes there (12 outside the Basic Multilingual Plane).
    """
    if len(text) * 12 <= limit:
        return text  # cannot be over, whatever it holds
    size = len(_json_text(text)) - 2
    if size <= limit:
        return text
    room = limit - 6  # the ellipsis is \u2026 on the wire
    keep = max(0, len(text) * room // size)
    while keep and len(_json_text(text[:keep])) - 2 > room:
        keep = keep * 7 // 8
    return text[:keep] + CLIPPED


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return clip(lines[0]) if lines else type(text).__name__


def keep_first(
    items: List[Any], limit: int, what: str, truncated: Dict[str, str], how: str = ""
) -> List[Any]:
    """At most ``limit`` of ``items`` (already in priority order), noting a cut in
    ``truncated`` under ``what``."""
    if len(items) <= limit:
        return items
    truncated[what] = "%d of %d shown%s" % (limit, len(items), how)
    return items[:limit]


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _int_or_none(text: Optional[str]) -> Optional[int]:
    try:
        return int(text.strip()) if text else None
    except ValueError:
        return None
