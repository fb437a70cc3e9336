"""The aiconsole probe: reads one host's CPU, memory, disks, NICs, InfiniBand and GPUs.

This file is a self-contained program. The console runs it locally in a worker thread, and
sends its source over SSH to run with the host's own ``python3``, so it must:

* use the standard library only (pynvml is used when the host has it, never required);
* stay compatible with Python 3.8 (the tests check this);
* never raise for a missing or odd file: a value it cannot read is ``None`` and the reason is
  recorded in the section's ``unavailable`` map.

Rates (CPU %, bytes/s, IOPS) come from the difference between two samples of one
:class:`Sampler`; the first sample reports them as unavailable rather than as a false 0.

Run as a program it prints one JSON document per interval on stdout:
``python3 probe.py --interval 1``. Field names match ``aiconsole.model``.
"""

from __future__ import annotations

import _thread
import os
import pwd
import sys
import time

# Start-up time is paid on every host at every connect: typing alone costs ~3 ms, and it is
# needed only by the type checker (annotations are never evaluated, see the future import).
# For the same reason threads come from _thread (threading costs ~1 ms) and JSON from _json
# (the json package pulls in re, enum and functools: ~7 ms, a third of the probe's start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Hashable, List, Optional, Set, Tuple

    JsonDict = Dict[str, Any]
    RawProcess = Tuple[int, str, Optional[int]]  # pid, "compute" or "graphics", GPU memory

PROBE_VERSION = "0.1.0"

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

# Filesystems an operator never wants in a disk-space table.
PSEUDO_FSTYPES = frozenset(
    [
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "proc",
        "pstore",
        "ramfs",
        "rpc_pipefs",
        "securityfs",
        "selinuxfs",
        "squashfs",
        "sysfs",
        "tmpfs",
        "tracefs",
        "fuse.gvfsd-fuse",
        "fuse.portal",
        "fuse.lxcfs",
    ]
)
# statvfs on a network, cluster or FUSE filesystem can hang for minutes when its server (or
# its FUSE daemon) is gone. Only filesystems known to live on this host's own block devices
# are asked directly; every other type, including any unknown one, is asked with a deadline.
LOCAL_FSTYPES = frozenset(
    [
        "ext2",
        "ext3",
        "ext4",
        "xfs",
        "btrfs",
        "bcachefs",
        "f2fs",
        "jfs",
        "reiserfs",
        "nilfs2",
        "zfs",
        "vfat",
        "msdos",
        "exfat",
        "ntfs",
        "ntfs3",
        "hfsplus",
        "iso9660",
        "udf",
        "overlay",
        "erofs",
    ]
)
NETWORK_FSTYPES = frozenset(
    [
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "lustre",
        "gpfs",
        "beegfs",
        "ceph",
        "cephfs",
        "glusterfs",
        "9p",
        "afs",
        "wekafs",
        "ocfs2",
        "gfs2",
        "virtiofs",
        "orangefs",
        "pvfs2",
    ]
)
"""Documentation more than rule: these are asked with a deadline, as is any type not local."""


def statvfs_may_hang(fstype: str) -> bool:
    """Whether statvfs on a filesystem of this type can block on something off this host."""
    return fstype.startswith("fuse") or fstype in NETWORK_FSTYPES or fstype not in LOCAL_FSTYPES


SKIPPED_DISK_PREFIXES = ("loop", "ram", "fd", "sr", "zram")

# --------------------------------------------------------------------------------------------
# Parsers: text in, plain data out. No I/O, so recorded files test them exactly.
# --------------------------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    """Digits only, ASCII ones (str.isdigit also takes "²", which int() refuses)."""
    return text.isascii() and text.isdigit()


def parse_proc_stat(text: str) -> Dict[str, Tuple[int, int]]:
    """``/proc/stat`` cpu lines -> {"cpu": (total_jiffies, idle_jiffies), "cpu0": ...}.

    guest and guest_nice are already counted in user and nice, so they are left out of the
    total; iowait counts as idle, as in top. A line that is not a cpu line is skipped.
    """
    cpus: Dict[str, Tuple[int, int]] = {}
    for line in text.splitlines():
        if not line.startswith("cpu"):
            continue
        parts = line.split()
        if not (parts[0] == "cpu" or _is_number(parts[0][3:])):
            continue
        try:
            values = [int(v) for v in parts[1:9]]
        except ValueError:
            continue
        values += [0] * (8 - len(values))
        idle = values[3] + values[4]
        cpus[parts[0]] = (sum(values), idle)
    return cpus


def _finite(text: str) -> Optional[float]:
    """A finite number, or None (float() also takes "nan" and "inf", which JSON has not)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value - value == 0.0 else None


def parse_loadavg(text: str) -> Optional[Tuple[float, float, float]]:
    """``/proc/loadavg`` -> (1, 5, 15-minute load), or None when it is not that."""
    loads = [_finite(word) for word in text.split()[:3]]
    if len(loads) != 3 or None in loads:
        return None
    return loads[0], loads[1], loads[2]  # type: ignore[return-value]


def parse_uptime(text: str) -> Optional[float]:
    """Seconds since boot from ``/proc/uptime``, or None when it is not a number."""
    words = text.split()
    return _finite(words[0]) if words else None


def parse_meminfo(text: str) -> Dict[str, int]:
    """``/proc/meminfo`` -> {"MemTotal": bytes, ...}."""
    result = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        try:
            value = int(fields[0])
        except (IndexError, ValueError):
            continue
        if len(fields) > 1 and fields[1] == "kB":
            value *= 1024
        result[key.strip()] = value
    return result


def _unescape_mount_field(field: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as octal escapes.
    if "\\" not in field:
        return field
    for escaped, plain in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(escaped, plain)
    return field


def parse_mounts(text: str) -> List[Tuple[str, str, str]]:
    """``/proc/self/mounts`` -> [(device, mount point, fstype)] of real filesystems.

    Pseudo filesystems are dropped; a mount point mounted twice keeps the last (visible) one.
    """
    by_mount: Dict[str, Tuple[str, str, str]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        device, mount, fstype = (_unescape_mount_field(p) for p in parts[:3])
        if fstype in PSEUDO_FSTYPES:
            continue
        by_mount[mount] = (device, mount, fstype)
    return list(by_mount.values())


def parse_diskstats(text: str) -> Dict[str, Tuple[int, int, int, int]]:
    """``/proc/diskstats`` -> {name: (reads, sectors read, writes, sectors written)}."""
    result = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10:
            continue
        try:
            result[parts[2]] = (int(parts[3]), int(parts[5]), int(parts[7]), int(parts[9]))
        except ValueError:
            continue
    return result


NET_DEV_FIELDS = (
    "rx_bytes",
    "rx_packets",
    "rx_errors",
    "rx_drops",
    "tx_bytes",
    "tx_packets",
    "tx_errors",
    "tx_drops",
)


def parse_net_dev(text: str) -> Dict[str, Dict[str, int]]:
    """``/proc/net/dev`` -> {iface: {rx_bytes, rx_errors, rx_drops, tx_bytes, ...}}."""
    result = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        values = rest.split()
        if len(values) < 16:
            continue
        try:
            numbers = [int(v) for v in values[0:4] + values[8:12]]
        except ValueError:
            continue
        result[name.strip()] = dict(zip(NET_DEV_FIELDS, numbers))
    return result


def parse_ib_state(text: str) -> str:
    """``4: ACTIVE`` -> ``ACTIVE`` (sysfs state and phys_state files)."""
    _, _, name = text.strip().partition(":")
    return name.strip() or text.strip()


def parse_ib_rate(text: str) -> Optional[float]:
    """``200 Gb/sec (4X HDR)`` -> 200.0; None when it does not start with a number."""
    words = text.split()
    return _finite(words[0]) if words else None


def parse_uid(status_text: str) -> Optional[int]:
    """Real UID from ``/proc/PID/status``."""
    for line in status_text.splitlines():
        if line.startswith("Uid:"):
            fields = line.split()
            return int(fields[1]) if len(fields) > 1 and _is_number(fields[1]) else None
    return None


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


class Host:
    """Paths of one host's /proc and /sys: ``/`` in production, a recorded tree in tests.

    Files read on every sample stay open and are re-read from offset 0 (procfs and sysfs
    regenerate their content on each read): that saves a path lookup, an open and a close
    per file per sample, which is a good share of the probe's cost. The number of files
    kept open is bounded, so a host with thousands of interfaces cannot exhaust its fds.
    """

    MAX_OPEN_FILES = 128
    READ_CHUNK = 65536

    def __init__(self, root: str = "/") -> None:
        self.root = root
        self._open: Dict[str, int] = {}

    def path(self, relative: str) -> str:
        return os.path.join(self.root, relative)

    def read(
        self, relative: str, keep_open: bool = False, limit: Optional[int] = None
    ) -> Optional[str]:
        """The file's text (its first ``limit`` bytes), or None if it cannot be read (gone,
        no permission, EINVAL)."""
        fd = self._open.get(relative)
        try:
            if fd is None:
                fd = os.open(self.path(relative), os.O_RDONLY | os.O_CLOEXEC)
                if keep_open and len(self._open) < self.MAX_OPEN_FILES:
                    self._open[relative] = fd
            return self._read_all(fd, limit).decode("utf-8", "replace")
        except OSError:
            self._forget(relative)
            return None
        finally:
            if fd is not None and relative not in self._open:
                os.close(fd)

    def _read_all(self, fd: int, limit: Optional[int] = None) -> bytes:
        chunks: List[bytes] = []
        offset = 0
        while limit is None or offset < limit:
            size = self.READ_CHUNK if limit is None else min(self.READ_CHUNK, limit - offset)
            chunk = os.pread(fd, size, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)

    def _forget(self, relative: str) -> None:
        # The file went away under an open descriptor (a NIC removed, say): reopen next time.
        self._open.pop(relative, None)

    def close(self) -> None:
        for fd in self._open.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._open.clear()

    def listdir(self, relative: str) -> List[str]:
        try:
            return sorted(os.listdir(self.path(relative)))
        except OSError:
            return []


class CallTimedOut(Exception):
    """A call given to :class:`DeadlineRunner` did not return within its deadline, or
    (``earlier``) the previous call for its key is still stuck, so it was not made."""

    def __init__(self, deadline_s: float, earlier: bool) -> None:
        super().__init__(
            "still hung from an earlier sample"
            if earlier
            else "did not return within %.1f s" % deadline_s
        )
        self.earlier = earlier


class DeadlineRunner:
    """Runs calls that can hang in worker threads and waits for each at most a deadline.

    What it guards: NVML on a GPU that stopped answering, statvfs on a mount whose server is
    gone, /proc/PID/cmdline of a process stuck with its memory map locked. A call that misses
    its deadline keeps its thread; its key (the GPU, the mount, the PID) is answered "still
    hung" without being asked again until that call returns. So a call that never returns
    holds one thread for good, never one per sample, and every other key gets a free worker.
    """

    def __init__(self) -> None:
        self._idle: List[_Worker] = []
        self._stuck: Dict[Hashable, _Worker] = {}
        self.threads_started = 0

    def call(
        self, key: Hashable, deadline_s: float, function: Callable[..., Any], *args: Any
    ) -> Any:
        """``function(*args)``'s result or exception; CallTimedOut when it is late (or an
        earlier call for ``key`` still is)."""
        stuck = self._stuck.get(key)
        if stuck is not None:
            if stuck.running:
                raise CallTimedOut(deadline_s, earlier=True)
            stuck.settle()
            del self._stuck[key]
            self._idle.append(stuck)
        if not self._idle:
            self._reclaim()
        if self._idle:
            worker = self._idle.pop()
        else:
            worker = _Worker()
            self.threads_started += 1
        if not worker.run(function, args, deadline_s):
            self._stuck[key] = worker
            raise CallTimedOut(deadline_s, earlier=False)
        self._idle.append(worker)
        return worker.result()

    def _reclaim(self) -> None:
        """Take back the workers of late calls that have returned since, whether or not
        their keys are asked again (a process that has exited is not)."""
        for key, worker in list(self._stuck.items()):
            if not worker.running:
                worker.settle()
                del self._stuck[key]
                self._idle.append(worker)

    def hung(self) -> int:
        """How many calls are still stuck (each holds one thread)."""
        return sum(1 for worker in self._stuck.values() if worker.running)


class _Worker:
    """One daemon thread that runs one call at a time, handed over through two locks."""

    def __init__(self) -> None:
        self._wake = _thread.allocate_lock()
        self._wake.acquire()
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self._job: Any = None
        self._outcome: Tuple[bool, Any] = (True, None)
        self.running = False
        _thread.start_new_thread(self._serve, ())

    def _serve(self) -> None:
        while True:
            self._wake.acquire()
            function, args = self._job
            try:
                self._outcome = (True, function(*args))
            except BaseException as error:  # handed to the caller, never lost in this thread
                self._outcome = (False, error)
            self.running = False
            self._done.release()

    def run(self, function: Callable[..., Any], args: Tuple[Any, ...], deadline_s: float) -> bool:
        """Start the call; True when it finished within the deadline."""
        self._job = (function, args)
        self.running = True
        self._wake.release()
        return self._done.acquire(True, deadline_s)

    def settle(self) -> None:
        """Make a worker whose late call has finished reusable (its outcome is dropped)."""
        self._done.acquire()  # released right after ``running`` is cleared
        self._outcome = (True, None)

    def result(self) -> Any:
        ok, value = self._outcome
        self._outcome = (True, None)
        if ok:
            return value
        raise value


class StatvfsGuard:
    """statvfs that cannot hang the probe on a dead network, cluster or FUSE filesystem.

    Those (see statvfs_may_hang) are asked with a deadline; while an earlier call on a mount
    is still stuck, the mount is reported as hung without asking again.
    """

    def __init__(
        self,
        statvfs: Callable[[str], Any] = os.statvfs,
        timeout_s: float = NETWORK_STATVFS_TIMEOUT_S,
        runner: Optional[DeadlineRunner] = None,
    ) -> None:
        self._statvfs = statvfs
        self._timeout_s = timeout_s
        self._runner = runner

    def __call__(self, mount: str, fstype: str) -> Any:
        if not statvfs_may_hang(fstype):
            return self._statvfs(mount)
        if self._runner is None:
            self._runner = DeadlineRunner()
        try:
            return self._runner.call(("statvfs", mount), self._timeout_s, self._statvfs, mount)
        except CallTimedOut as late:
            if late.earlier:
                raise OSError("statvfs still hung from an earlier sample") from None
            raise OSError(
                "statvfs did not answer in %.1f s (server down?)" % self._timeout_s
            ) from None


CLOCK_EVENT_REASONS = (
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
    (0x200, "board_limit"),
    (0x400, "reliability"),
)
"""NVML's clocks-event (formerly throttle) reason bits, named as nvidia-smi -q names them."""

NVLINK_MAX_LINKS = 18
PSTATE_UNKNOWN = 32


def clock_event_names(mask: int) -> List[str]:
    """Names of the bits set in a clocks-event mask; an unknown bit is kept as hex."""
    mask &= 0xFFFFFFFFFFFFFFFF  # NVML's mask is 64 bits; a negative int has endless ones
    names = [name for bit, name in CLOCK_EVENT_REASONS if mask & bit]
    known = 0
    for bit, _ in CLOCK_EVENT_REASONS:
        known |= bit
    unknown = mask & ~known
    bit = 1
    while unknown:
        if unknown & bit:
            names.append("bit_0x%x" % bit)
            unknown &= ~bit
        bit <<= 1
    return names


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

KERNEL_LOG = "/dev/kmsg"


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


class ProcessInfo:
    """User, command line, CPU and memory of a PID, from /proc (user names cached)."""

    def __init__(
        self,
        host: Host,
        monotonic: Callable[[], float] = time.monotonic,
        runner: Optional[DeadlineRunner] = None,
    ) -> None:
        self._host = host
        self._monotonic = monotonic
        self._runner = runner
        self._users: Dict[int, str] = {}
        self._cpu_seen: Dict[int, Tuple[float, float]] = {}
        # The probe reads /proc, so it only ever runs on Linux, where sysconf always exists.
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")

    def describe(self, pid: int, kind: str, gpu_memory_bytes: Optional[int]) -> JsonDict:
        """A GPU process as the model has it."""
        cpu_percent, rss = self.usage(pid)
        return {
            "pid": pid,
            "kind": kind,
            "gpu_memory_bytes": gpu_memory_bytes,
            "user": self.user(pid),
            "command": self.command(pid),
            "cpu_percent": cpu_percent,
            "rss_bytes": rss,
        }

    def usage(self, pid: int) -> Tuple[Optional[float], Optional[int]]:
        """CPU % of one core since this PID was last asked about, and resident memory."""
        stat = self._host.read("proc/%d/stat" % pid)
        statm = self._host.read("proc/%d/statm" % pid)
        rss = None
        if statm:
            fields = statm.split()
            if len(fields) > 1 and _is_number(fields[1]):
                rss = int(fields[1]) * self._page
        if not stat or ")" not in stat:
            self._cpu_seen.pop(pid, None)
            return None, rss
        # The command name may hold spaces and parentheses: fields start after the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        try:
            cpu_s = (int(fields[11]) + int(fields[12])) / float(self._ticks)
        except (IndexError, ValueError):
            return None, rss
        now = self._monotonic()
        previous = self._cpu_seen.get(pid)
        self._cpu_seen[pid] = (now, cpu_s)
        if previous is None or now <= previous[0] or cpu_s < previous[1]:
            return None, rss
        return round(100.0 * (cpu_s - previous[1]) / (now - previous[0]), 1), rss

    def forget_except(self, pids: Set[int]) -> None:
        """Drop CPU history of processes no longer on any GPU."""
        for pid in list(self._cpu_seen):
            if pid not in pids:
                del self._cpu_seen[pid]

    def user(self, pid: int) -> Optional[str]:
        status = self._host.read("proc/%d/status" % pid)
        uid = parse_uid(status) if status else None
        if uid is None:
            return None
        if uid not in self._users:
            try:
                self._users[uid] = clip(pwd.getpwuid(uid).pw_name)
            except KeyError:
                self._users[uid] = str(uid)
        return self._users[uid]

    def command(self, pid: int) -> Optional[str]:
        """The command line, clipped to MAX_COMMAND_BYTES.

        Reading it takes the process's memory-map lock, which a process stuck in the kernel
        (a page fault on a dead NFS server, say) can hold for minutes: it is read with a
        deadline, and a command line not read in time shows as ``[comm]``, as for a kernel
        thread (the name in /proc/PID/comm needs no such lock).
        """
        path = "proc/%d/cmdline" % pid
        if self._runner is None:
            self._runner = DeadlineRunner()
        try:
            # Every byte takes at least one byte as JSON: reading one past the bound is enough.
            raw = self._runner.call(
                ("cmdline", pid),
                CMDLINE_DEADLINE_S,
                self._host.read,
                path,
                False,
                MAX_COMMAND_BYTES + 1,
            )
        except CallTimedOut:
            raw = None
        if not raw:
            # Kernel threads and zombies have an empty cmdline; comm is the best we have.
            comm = self._host.read("proc/%d/comm" % pid)
            return clip("[%s]" % comm.strip()) if comm else None
        return clip(raw.rstrip("\0").replace("\0", " "), MAX_COMMAND_BYTES)


def describe_processes(gpus: List[JsonDict], info: ProcessInfo, truncated: Dict[str, str]) -> None:
    """Replace each GPU's raw ``(pid, kind, GPU memory)`` list by the model's processes.

    Each GPU keeps the processes using the most GPU memory, up to a share of
    MAX_PROCESSES_PER_SAMPLE; a process on several GPUs is read from /proc once.
    """
    share = MAX_PROCESSES_PER_SAMPLE // max(1, len(gpus))
    limit = max(1, min(MAX_PROCESSES_PER_GPU, share))
    described: Dict[int, JsonDict] = {}
    for gpu in gpus:
        raw: Optional[List[RawProcess]] = gpu.get("processes")
        if raw is None:
            continue
        raw.sort(key=lambda process: (-(process[2] or 0), process[0]))
        what = "gpu%s.processes" % gpu["index"]
        kept = keep_first(raw, limit, what, truncated, " (most GPU memory first)")
        processes = []
        for pid, kind, used in sorted(kept):
            if pid not in described:
                described[pid] = info.describe(pid, kind, used)
            processes.append(dict(described[pid], kind=kind, gpu_memory_bytes=used))
        gpu["processes"] = processes
    info.forget_except(set(described))


class NvmlReader:
    """GPUs through pynvml, initialised once per probe process.

    Every NVML call is wrapped: a call the driver does not support leaves that field ``None``
    with NVML's own message as the reason; a lost GPU is flagged and its siblings still read.
    Each GPU is read with a deadline: a GPU whose driver stops answering is reported with its
    reason (and its identity from its last good read) while the others are still read.
    """

    RETRY_INIT_S = 30.0

    def __init__(
        self,
        process_info: ProcessInfo,
        monotonic: Callable[[], float] = time.monotonic,
        runner: Optional[DeadlineRunner] = None,
        deadline_s: float = NVML_DEADLINE_S,
    ) -> None:
        self._process_info = process_info
        self._monotonic = monotonic
        self._runner = runner if runner is not None else DeadlineRunner()
        self.deadline_s = deadline_s
        self._identities: Dict[int, JsonDict] = {}
        self._nvml: Any = None
        self._driver_version: Optional[str] = None
        self._cuda_version: Optional[str] = None
        self._first_energy_mj: Dict[int, int] = {}
        self._failure: Optional[JsonDict] = None
        self._last_init_attempt: Optional[float] = None

    def _init(self) -> Optional[JsonDict]:
        """Initialise NVML; return a gpu section describing the failure, or None."""
        now = self._monotonic()
        if self._nvml is not None:
            return None
        if (
            self._last_init_attempt is not None
            and now - self._last_init_attempt < self.RETRY_INIT_S
        ):
            return self._failure
        self._last_init_attempt = now
        try:
            import pynvml  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            self._failure = {
                "status": "no_bindings",
                "source": "none",
                "reason": "pynvml is not installed for %s" % sys.executable,
            }
            return self._failure
        try:
            versions = self._runner.call(("nvml",), self.deadline_s, self._start, pynvml)
        except CallTimedOut as late:
            self._failure = {
                "status": "error",
                "source": "nvml",
                "reason": "nvmlInit %s" % late,
            }
            return self._failure
        except pynvml.NVMLError_LibraryNotFound:
            self._failure = {
                "status": "no_driver",
                "source": "none",
                "reason": "no NVIDIA driver (libnvidia-ml.so.1 not found)",
            }
            return self._failure
        except pynvml.NVMLError_DriverNotLoaded:
            self._failure = {
                "status": "no_driver",
                "source": "none",
                "reason": "NVIDIA driver is not loaded",
            }
            return self._failure
        except pynvml.NVMLError as error:
            self._failure = {
                "status": "error",
                "source": "nvml",
                "reason": "nvmlInit failed: %s" % error,
            }
            return self._failure
        self._nvml = pynvml
        self._failure = None
        self._driver_version, self._cuda_version = versions
        return None

    @classmethod
    def _start(cls, pynvml: Any) -> Tuple[Optional[str], Optional[str]]:
        """nvmlInit, then the driver's and CUDA's versions: (driver, CUDA)."""
        pynvml.nvmlInit()
        try:
            driver: Optional[str] = _text(pynvml.nvmlSystemGetDriverVersion())
        except pynvml.NVMLError:
            driver = None
        return driver, cls._read_cuda_version(pynvml)

    @property
    def module(self) -> Any:
        """The initialised pynvml module (None before a successful init)."""
        return self._nvml

    @staticmethod
    def _read_cuda_version(pynvml: Any) -> Optional[str]:
        for name in ("nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion"):
            call = getattr(pynvml, name, None)
            if call is None:
                continue
            try:
                version = int(call())
            except pynvml.NVMLError:
                continue
            return "%d.%d" % (version // 1000, (version % 1000) // 10)
        return None

    def read(self) -> JsonDict:
        failure = self._init()
        if failure is not None:
            return dict(failure, gpus=[])
        nvml = self._nvml
        try:
            count = self._runner.call(("nvml",), self.deadline_s, nvml.nvmlDeviceGetCount)
        except (nvml.NVMLError, CallTimedOut) as error:
            return {
                "status": "error",
                "source": "nvml",
                "gpus": [],
                "driver_version": self._driver_version,
                "reason": "nvmlDeviceGetCount failed: %s" % error,
            }
        truncated: Dict[str, str] = {}
        indexes = keep_first(list(range(count)), MAX_GPUS, "gpus", truncated)
        gpus = [self._read_gpu_in_time(index) for index in indexes]
        describe_processes(gpus, self._process_info, truncated)
        section: JsonDict = {
            "status": "ok",
            "source": "nvml",
            "driver_version": self._driver_version,
            "cuda_driver_version": self._cuda_version,
            "gpus": gpus,
        }
        if truncated:
            section["truncated"] = truncated
        return section

    def _read_gpu_in_time(self, index: int) -> JsonDict:
        try:
            gpu: JsonDict = self._runner.call(
                ("gpu", index), self.deadline_s, self._read_gpu, index
            )
        except CallTimedOut:
            # Still hung or newly so: the same words, so a row does not flicker between two.
            reason = "NVML call did not return within %.1f s" % self.deadline_s
            gpu = dict(self._identities.get(index, {}), index=index, lost=False)
            gpu["unavailable"] = {"gpu": reason}
            return gpu
        self._identities[index] = {key: gpu.get(key) for key in ("name", "uuid", "bus_id")}
        return gpu

    def _read_gpu(self, index: int) -> JsonDict:
        nvml = self._nvml
        unavailable: Dict[str, str] = {}
        gpu: JsonDict = {"index": index, "unavailable": unavailable}
        lost: List[bool] = []

        def ask(field: str, call: Callable[..., Any], *args: Any) -> Any:
            if lost:
                unavailable[field] = "GPU is lost"
                return None
            try:
                return call(*args)
            except nvml.NVMLError_GpuIsLost:
                lost.append(True)
                unavailable[field] = "GPU is lost"
            except nvml.NVMLError as error:
                unavailable[field] = str(error)
            return None

        handle = ask("handle", nvml.nvmlDeviceGetHandleByIndex, index)
        if handle is None:
            gpu["lost"] = bool(lost)
            return gpu
        unavailable.pop("handle", None)
        gpu["name"] = _text(ask("name", nvml.nvmlDeviceGetName, handle))
        gpu["uuid"] = _text(ask("uuid", nvml.nvmlDeviceGetUUID, handle))
        pci = ask("bus_id", nvml.nvmlDeviceGetPciInfo, handle)
        gpu["bus_id"] = _text(pci.busId) if pci is not None else None

        memory = self._memory(ask, handle, unavailable)
        if memory is not None:
            gpu["memory_total_bytes"] = int(memory.total)
            gpu["memory_used_bytes"] = int(memory.used)
        else:
            gpu["memory_total_bytes"] = gpu["memory_used_bytes"] = None
            for field in ("memory_total_bytes", "memory_used_bytes"):
                unavailable[field] = unavailable.get("memory", "unknown")
            unavailable.pop("memory", None)

        rates = ask("util_gpu_percent", nvml.nvmlDeviceGetUtilizationRates, handle)
        if rates is not None:
            gpu["util_gpu_percent"] = float(rates.gpu)
            gpu["util_memory_percent"] = float(rates.memory)
        else:
            gpu["util_gpu_percent"] = gpu["util_memory_percent"] = None
            unavailable["util_memory_percent"] = unavailable["util_gpu_percent"]

        temperature = ask(
            "temperature_c", nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU
        )
        gpu["temperature_c"] = None if temperature is None else float(temperature)
        power = ask("power_draw_w", nvml.nvmlDeviceGetPowerUsage, handle)
        gpu["power_draw_w"] = None if power is None else power / 1000.0
        limit = ask("power_limit_w", nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
        gpu["power_limit_w"] = None if limit is None else limit / 1000.0
        gpu["sm_clock_mhz"] = ask(
            "sm_clock_mhz", nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_SM
        )
        self._read_depth(gpu, ask, handle, index)
        gpu["processes"] = self._processes(ask, handle)
        gpu["lost"] = bool(lost)
        return gpu

    def _read_depth(self, gpu: JsonDict, ask: Callable[..., Any], handle: Any, index: int) -> None:
        """Clocks, fan, P-state, clock-event reasons, energy, ECC, remaps, links, MIG."""
        nvml = self._nvml
        unavailable = gpu["unavailable"]
        gpu["sm_clock_max_mhz"] = ask(
            "sm_clock_max_mhz", nvml.nvmlDeviceGetMaxClockInfo, handle, nvml.NVML_CLOCK_SM
        )
        gpu["memory_clock_mhz"] = ask(
            "memory_clock_mhz", nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_MEM
        )
        gpu["memory_clock_max_mhz"] = ask(
            "memory_clock_max_mhz", nvml.nvmlDeviceGetMaxClockInfo, handle, nvml.NVML_CLOCK_MEM
        )
        fan = ask("fan_speed_percent", nvml.nvmlDeviceGetFanSpeed, handle)
        gpu["fan_speed_percent"] = None if fan is None else float(fan)
        pstate = ask("performance_state", nvml.nvmlDeviceGetPerformanceState, handle)
        if pstate == PSTATE_UNKNOWN:
            pstate = None
            unavailable["performance_state"] = "driver reports the P-state as unknown"
        gpu["performance_state"] = pstate
        mask = self._clock_reasons(ask, handle, unavailable)
        gpu["clock_event_reasons"] = None if mask is None else clock_event_names(int(mask))

        energy = ask("energy_j", nvml.nvmlDeviceGetTotalEnergyConsumption, handle)
        if energy is None:
            gpu["energy_j"] = gpu["energy_session_j"] = None
            unavailable["energy_session_j"] = unavailable["energy_j"]
        else:
            first = self._first_energy_mj.setdefault(index, int(energy))
            gpu["energy_j"] = int(energy) / 1000.0
            gpu["energy_session_j"] = max(0, int(energy) - first) / 1000.0

        ecc = ask("ecc_enabled", nvml.nvmlDeviceGetEccMode, handle)
        gpu["ecc_enabled"] = None if ecc is None else bool(ecc[0])
        for field, error_type, counter in (
            ("ecc_corrected_volatile", "NVML_MEMORY_ERROR_TYPE_CORRECTED", "NVML_VOLATILE_ECC"),
            ("ecc_uncorrected_volatile", "NVML_MEMORY_ERROR_TYPE_UNCORRECTED", "NVML_VOLATILE_ECC"),
            ("ecc_corrected_aggregate", "NVML_MEMORY_ERROR_TYPE_CORRECTED", "NVML_AGGREGATE_ECC"),
            (
                "ecc_uncorrected_aggregate",
                "NVML_MEMORY_ERROR_TYPE_UNCORRECTED",
                "NVML_AGGREGATE_ECC",
            ),
        ):
            if gpu["ecc_enabled"] is False:
                gpu[field] = None
                unavailable[field] = "ECC is disabled"
                continue
            gpu[field] = ask(
                field,
                nvml.nvmlDeviceGetTotalEccErrors,
                handle,
                getattr(nvml, error_type),
                getattr(nvml, counter),
            )

        remap = ask("remapped_rows", nvml.nvmlDeviceGetRemappedRows, handle)
        remap_fields = (
            "remapped_rows_correctable",
            "remapped_rows_uncorrectable",
            "remap_pending",
            "remap_failure",
        )
        if remap is None:
            reason = unavailable.pop("remapped_rows")
            for field in remap_fields:
                gpu[field] = None
                unavailable[field] = reason
        else:
            correctable, uncorrectable, pending, failure = remap
            gpu["remapped_rows_correctable"] = int(correctable)
            gpu["remapped_rows_uncorrectable"] = int(uncorrectable)
            gpu["remap_pending"] = bool(pending)
            gpu["remap_failure"] = bool(failure)
        for field, cause in (
            (
                "retired_pages_single_bit",
                "NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS",
            ),
            ("retired_pages_double_bit", "NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR"),
        ):
            pages = ask(field, nvml.nvmlDeviceGetRetiredPages, handle, getattr(nvml, cause))
            gpu[field] = None if pages is None else len(pages)
        pending = ask("retired_pages_pending", nvml.nvmlDeviceGetRetiredPagesPendingStatus, handle)
        gpu["retired_pages_pending"] = None if pending is None else bool(pending)

        for field, call in (
            ("pcie_link_gen", "nvmlDeviceGetCurrPcieLinkGeneration"),
            ("pcie_link_gen_max", "nvmlDeviceGetMaxPcieLinkGeneration"),
            ("pcie_link_width", "nvmlDeviceGetCurrPcieLinkWidth"),
            ("pcie_link_width_max", "nvmlDeviceGetMaxPcieLinkWidth"),
        ):
            gpu[field] = ask(field, getattr(nvml, call), handle)
        self._nvlinks(gpu, ask, handle)
        mig = ask("mig_enabled", nvml.nvmlDeviceGetMigMode, handle)
        gpu["mig_enabled"] = None if mig is None else bool(mig[0])

    def _clock_reasons(
        self, ask: Callable[..., Any], handle: Any, unavailable: Dict[str, str]
    ) -> Any:
        # R535 renamed the call; older drivers (and older pynvml) only have the throttle name.
        nvml = self._nvml
        if getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) is not None:
            try:
                return nvml.nvmlDeviceGetCurrentClocksEventReasons(handle)
            except nvml.NVMLError_FunctionNotFound:
                pass  # a driver before R535: ask under the old name
            except nvml.NVMLError_GpuIsLost:
                pass  # ask() below records the loss as for every other field
            except nvml.NVMLError as error:
                unavailable["clock_event_reasons"] = str(error)
                return None
        return ask("clock_event_reasons", nvml.nvmlDeviceGetCurrentClocksThrottleReasons, handle)

    def _nvlinks(self, gpu: JsonDict, ask: Callable[..., Any], handle: Any) -> None:
        nvml = self._nvml
        up = total = 0
        reason = None
        for link in range(NVLINK_MAX_LINKS):
            try:
                state = nvml.nvmlDeviceGetNvLinkState(handle, link)
            except nvml.NVMLError_GpuIsLost:
                ask("nvlink_links_up", nvml.nvmlDeviceGetNvLinkState, handle, link)
                reason = gpu["unavailable"]["nvlink_links_up"]
                break
            except (nvml.NVMLError_InvalidArgument, nvml.NVMLError_NotSupported) as error:
                if total == 0:
                    reason = "no NVLink (%s)" % error
                break  # past this GPU's last link
            except nvml.NVMLError as error:
                reason = str(error)
                break
            total += 1
            up += 1 if state else 0
        if total == 0:
            gpu["nvlink_links_up"] = gpu["nvlink_links_total"] = None
            gpu["unavailable"]["nvlink_links_up"] = gpu["unavailable"]["nvlink_links_total"] = (
                reason or "no NVLink"
            )
        else:
            gpu["nvlink_links_up"], gpu["nvlink_links_total"] = up, total

    def _memory(self, ask: Callable[..., Any], handle: Any, unavailable: Dict[str, str]) -> Any:
        # The v1 call's "used" is wrong on drivers >= 510 (it counts reserved memory), so ask
        # for v2 and fall back to v1 only where the driver predates it.
        nvml = self._nvml
        try:
            return nvml.nvmlDeviceGetMemoryInfo(handle, nvml.nvmlMemory_v2)
        except nvml.NVMLError_FunctionNotFound:
            pass
        except nvml.NVMLError_GpuIsLost:
            pass  # ask() below records the loss the same way as for every other field
        except nvml.NVMLError as error:
            unavailable["memory"] = str(error)
            return None
        return ask("memory", nvml.nvmlDeviceGetMemoryInfo, handle)

    def _processes(self, ask: Callable[..., Any], handle: Any) -> List[RawProcess]:
        nvml = self._nvml
        found: Dict[int, RawProcess] = {}
        for kind, calls in (
            (
                "compute",
                (
                    "nvmlDeviceGetComputeRunningProcesses_v3",
                    "nvmlDeviceGetComputeRunningProcesses_v2",
                ),
            ),
            (
                "graphics",
                (
                    "nvmlDeviceGetGraphicsRunningProcesses_v3",
                    "nvmlDeviceGetGraphicsRunningProcesses_v2",
                ),
            ),
        ):
            for call_name in calls:
                call = getattr(nvml, call_name, None)
                if call is None:
                    continue
                try:
                    processes = call(handle)
                except nvml.NVMLError_FunctionNotFound:
                    continue  # older driver: try the previous version of the call
                except nvml.NVMLError:
                    break
                for process in processes:
                    pid = int(process.pid)
                    if pid not in found:
                        used = process.usedGpuMemory
                        found[pid] = (pid, kind, None if used is None else int(used))
                break
        # /proc is read for them later, outside NVML's deadline (see describe_processes).
        return list(found.values())


# --------------------------------------------------------------------------------------------
# nvidia-smi: the fallback for hosts whose python3 has no pynvml.
# --------------------------------------------------------------------------------------------

MIB = 1024 * 1024
SMI_TIMEOUT_S = 10.0
SMI_NOT_IN_CSV = "nvidia-smi has no CSV query for this"
SMI_MISSING_VALUES = {
    "[N/A]": "N/A",
    "N/A": "N/A",
    "[Not Supported]": "Not Supported",
    "[Unknown Error]": "Unknown Error",
    "[Insufficient Permissions]": "Insufficient Permissions",
    "[GPU is lost]": "GPU is lost",
    "[Requested functionality has been deprecated]": "deprecated by the driver",
}


def _smi_float(text: str) -> float:
    value = _finite(text)
    if value is None:
        raise ValueError(text)
    return value


def _smi_int(text: str) -> int:
    return int(float(text))


def _smi_mib(text: str) -> int:
    return int(float(text)) * MIB


def _smi_pstate(text: str) -> int:
    if not text.startswith("P"):
        raise ValueError(text)
    return int(text[1:])


def _smi_reasons(text: str) -> List[str]:
    mask = int(text, 16)
    if mask < 0:
        raise ValueError(text)
    return clock_event_names(mask)


def _smi_enabled(text: str) -> bool:
    if text not in ("Enabled", "Disabled"):
        raise ValueError(text)
    return text == "Enabled"


def _smi_yes(text: str) -> bool:
    if text in ("Yes", "1"):
        return True
    if text in ("No", "0"):
        return False
    raise ValueError(text)


SMI_GPU_FIELDS = (
    # (model field, query names newest first, converter)
    ("index", ("index",), int),
    ("name", ("name",), clip),
    ("uuid", ("uuid",), clip),
    ("bus_id", ("pci.bus_id",), clip),
    ("memory_total_bytes", ("memory.total",), _smi_mib),
    ("memory_used_bytes", ("memory.used",), _smi_mib),
    ("util_gpu_percent", ("utilization.gpu",), _smi_float),
    ("util_memory_percent", ("utilization.memory",), _smi_float),
    ("temperature_c", ("temperature.gpu",), _smi_float),
    ("power_draw_w", ("power.draw",), _smi_float),
    ("power_limit_w", ("enforced.power.limit", "power.limit"), _smi_float),
    ("sm_clock_mhz", ("clocks.sm",), _smi_int),
    ("sm_clock_max_mhz", ("clocks.max.sm",), _smi_int),
    ("memory_clock_mhz", ("clocks.mem",), _smi_int),
    ("memory_clock_max_mhz", ("clocks.max.memory",), _smi_int),
    ("fan_speed_percent", ("fan.speed",), _smi_float),
    ("performance_state", ("pstate",), _smi_pstate),
    (
        "clock_event_reasons",
        ("clocks_event_reasons.active", "clocks_throttle_reasons.active"),
        _smi_reasons,
    ),
    ("ecc_enabled", ("ecc.mode.current",), _smi_enabled),
    ("ecc_corrected_volatile", ("ecc.errors.corrected.volatile.total",), _smi_int),
    ("ecc_uncorrected_volatile", ("ecc.errors.uncorrected.volatile.total",), _smi_int),
    ("ecc_corrected_aggregate", ("ecc.errors.corrected.aggregate.total",), _smi_int),
    ("ecc_uncorrected_aggregate", ("ecc.errors.uncorrected.aggregate.total",), _smi_int),
    ("retired_pages_single_bit", ("retired_pages.sbe",), _smi_int),
    ("retired_pages_double_bit", ("retired_pages.dbe",), _smi_int),
    ("retired_pages_pending", ("retired_pages.pending",), _smi_yes),
    ("pcie_link_gen", ("pcie.link.gen.current",), _smi_int),
    ("pcie_link_gen_max", ("pcie.link.gen.max",), _smi_int),
    ("pcie_link_width", ("pcie.link.width.current",), _smi_int),
    ("pcie_link_width_max", ("pcie.link.width.max",), _smi_int),
    ("mig_enabled", ("mig.mode.current",), _smi_enabled),
    ("driver_version", ("driver_version",), clip),
)
SMI_REMAP_FIELDS = (
    ("remapped_rows_correctable", _smi_int),
    ("remapped_rows_uncorrectable", _smi_int),
    ("remap_pending", _smi_yes),
    ("remap_failure", _smi_yes),
)
SMI_NOT_QUERIED = ("energy_j", "energy_session_j", "nvlink_links_up", "nvlink_links_total")


def parse_smi_rejected_field(output: str) -> Optional[str]:
    """The field name in nvidia-smi's ``Field "x" is not a valid field to query.``"""
    marker = output.find("is not a valid field to query")
    if marker < 0:
        return None
    start = output.rfind('Field "', 0, marker)
    if start < 0:
        return None
    return output[start + len('Field "') : marker].rstrip().rstrip('"')


def split_smi_csv(line: str) -> List[str]:
    """Values of one ``--format=csv,noheader`` line (nvidia-smi never quotes them)."""
    return [value.strip() for value in line.split(",")]


def smi_value(
    text: str, convert: Callable[[str], Any], field: str, unavailable: Dict[str, str]
) -> Any:
    missing = SMI_MISSING_VALUES.get(text)
    if missing is not None:
        unavailable[field] = missing
        return None
    try:
        return convert(text)
    except (ValueError, OverflowError):  # OverflowError: "inf" where a count was due
        unavailable[field] = "nvidia-smi printed %r" % text[:40]
        return None


def parse_smi_gpus(
    output: str, query: List[Tuple[str, str, Callable[[str], Any]]], rejected: Dict[str, str]
) -> Tuple[List[JsonDict], Optional[str]]:
    """GPUs from ``--query-gpu`` output; (gpus, driver version).

    ``query`` lists (model field, query name, converter) in column order; ``rejected`` names
    the fields this driver refused, which are None with that reason on every GPU. A line that
    is not a row (``Unable to determine the device handle for GPU 0000:3B:00.0: GPU is
    lost``) stands for the GPU at that position, which is reported as lost.
    """
    gpus: List[JsonDict] = []
    driver_version = None
    for position, line in enumerate(output.splitlines()):
        if not line.strip():
            continue
        values = split_smi_csv(line)
        unavailable: Dict[str, str] = dict(rejected)
        gpu: JsonDict = {"index": len(gpus), "unavailable": unavailable}
        if len(values) != len(query):
            if "device handle" not in line:
                continue  # prose about the whole tool ("couldn't communicate with the driver")
            gpu["lost"] = "GPU is lost" in line
            unavailable["gpu"] = clip(line.strip())
            gpus.append(gpu)
            continue
        for (field, _name, convert), text in zip(query, values):
            value = smi_value(text, convert, field, unavailable)
            if field == "driver_version":
                driver_version = driver_version or value
            elif field == "index":
                gpu["index"] = value if value is not None else position
            else:
                gpu[field] = value
        gpu["lost"] = "GPU is lost" in unavailable.values()
        for field in SMI_NOT_QUERIED:
            gpu[field] = None
            unavailable[field] = SMI_NOT_IN_CSV
        gpus.append(gpu)
    return gpus, driver_version


class SmiReader:
    """GPUs through ``nvidia-smi --query-*`` CSV: the same fields as :class:`NvmlReader`.

    A driver that does not know a field rejects the whole query, so a rejected field is
    dropped (or its older name tried) and the query retried; what was dropped stays None with
    the reason on every sample.
    """

    def __init__(self, executable: str, process_info: ProcessInfo) -> None:
        self._executable = executable
        self._process_info = process_info
        self._names: Dict[str, Tuple[str, ...]] = {
            field: names for field, names, _ in SMI_GPU_FIELDS
        }
        self._converters = {field: convert for field, _, convert in SMI_GPU_FIELDS}
        self._rejected: Dict[str, str] = {}

    def _run(self, *args: str) -> Tuple[int, str]:
        import subprocess  # only hosts on the fallback path pay for it

        try:
            done = subprocess.run(
                [self._executable, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=SMI_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return -1, "nvidia-smi did not answer within %d s" % SMI_TIMEOUT_S
        except OSError as error:
            return -1, "cannot run %s: %s" % (self._executable, error.strerror or error)
        return done.returncode, done.stdout.decode("utf-8", "replace")

    def _query(self) -> List[Tuple[str, str, Callable[[str], Any]]]:
        return [
            (field, names[0], self._converters[field])
            for field, names in self._names.items()
            if names
        ]

    def read(self) -> JsonDict:
        for _attempt in range(len(SMI_GPU_FIELDS) + 1):
            query = self._query()
            code, output = self._run(
                "--query-gpu=" + ",".join(name for _, name, _ in query),
                "--format=csv,noheader,nounits",
            )
            rejected = parse_smi_rejected_field(output) if code != 0 else None
            field = next((f for f, name, _ in query if name == rejected), None)
            if field is None:
                break
            # Try the field's older name next time; with none left, read it as unavailable.
            self._names[field] = self._names[field][1:]
            if not self._names[field]:
                self._rejected[field] = 'this nvidia-smi rejects "%s"' % rejected
        gpus, driver_version = parse_smi_gpus(output, query, self._rejected)
        truncated: Dict[str, str] = {}
        gpus = keep_first(gpus, MAX_GPUS, "gpus", truncated)
        if not gpus:
            return {
                "status": "no_driver" if "driver" in output.lower() else "error",
                "source": "nvidia-smi",
                "gpus": [],
                "reason": "nvidia-smi: %s" % (_first_line(output) or "exit code %d" % code),
            }
        self._add_remaps(gpus)
        self._add_processes(gpus, truncated)
        section: JsonDict = {
            "status": "ok",
            "source": "nvidia-smi",
            "driver_version": driver_version,
            "cuda_driver_version": None,
            "gpus": gpus,
        }
        if truncated:
            section["truncated"] = truncated
        return section

    def _by_uuid(self, gpus: List[JsonDict]) -> Dict[str, JsonDict]:
        return {gpu["uuid"]: gpu for gpu in gpus if gpu.get("uuid")}

    def _add_remaps(self, gpus: List[JsonDict]) -> None:
        code, output = self._run(
            "--query-remapped-rows=gpu_uuid,remapped_rows.correctable,"
            "remapped_rows.uncorrectable,remapped_rows.pending,remapped_rows.failure",
            "--format=csv,noheader,nounits",
        )
        by_uuid = self._by_uuid(gpus)
        seen = set()
        if code == 0:
            for line in output.splitlines():
                values = split_smi_csv(line)
                gpu = by_uuid.get(values[0]) if len(values) == 5 else None
                if gpu is None:
                    continue
                seen.add(values[0])
                for (field, convert), text in zip(SMI_REMAP_FIELDS, values[1:]):
                    gpu[field] = smi_value(text, convert, field, gpu["unavailable"])
        reason = "N/A" if code == 0 else "nvidia-smi: %s" % _first_line(output)
        for gpu in gpus:
            if gpu.get("uuid") in seen:
                continue
            for field, _ in SMI_REMAP_FIELDS:
                gpu[field] = None
                gpu["unavailable"].setdefault(field, reason)

    def _add_processes(self, gpus: List[JsonDict], truncated: Dict[str, str]) -> None:
        for gpu in gpus:
            gpu["processes"] = []
        code, output = self._run(
            "--query-compute-apps=gpu_uuid,pid,used_memory", "--format=csv,noheader,nounits"
        )
        if code != 0:
            for gpu in gpus:
                gpu["unavailable"]["processes"] = "nvidia-smi: %s" % _first_line(output)
            return
        by_uuid = self._by_uuid(gpus)
        for line in output.splitlines():
            values = split_smi_csv(line)
            owner = by_uuid.get(values[0]) if len(values) == 3 else None
            if owner is None or not _is_number(values[1]):
                continue
            used = smi_value(values[2], _smi_mib, "gpu_memory_bytes", {})
            owner["processes"].append((int(values[1]), "compute", used))
        describe_processes(gpus, self._process_info, truncated)


def find_program(name: str) -> Optional[str]:
    """Where ``name`` is on $PATH (shutil.which without shutil's import cost).

    Only absolute entries count: an empty or relative one means the working directory, where
    whoever controls it could leave an ``nvidia-smi`` for the probe to run.
    """
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if not directory.startswith("/"):
            continue
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class GpuReader:
    """NVML when the host's python3 has pynvml, else nvidia-smi; plus XID events.

    XIDs come live from NVML's event set (or, without NVML, from following the kernel log),
    and the kernel log's history is read once, when GPUs are first seen.
    """

    def __init__(
        self,
        process_info: ProcessInfo,
        monotonic: Callable[[], float] = time.monotonic,
        kernel_log: str = KERNEL_LOG,
        clock: Callable[[], float] = time.time,
        runner: Optional[DeadlineRunner] = None,
    ) -> None:
        self._process_info = process_info
        self._clock = clock
        self._monotonic = monotonic
        self._runner = runner if runner is not None else DeadlineRunner()
        self._nvml = NvmlReader(process_info, monotonic, self._runner)
        self._smi: Optional[SmiReader] = None
        self._fallback_failure: Optional[JsonDict] = None
        self._fallback_retry_at = 0.0
        self._kernel_log = kernel_log
        self._xids = XidLog()
        self._watching = False
        self._follower: Optional[KernelLogFollower] = None
        self._unavailable: Dict[str, str] = {}
        self._watcher: Optional[XidWatcher] = None

    def read(self) -> JsonDict:
        section = self._nvml.read()
        if section["status"] in ("no_bindings", "no_driver"):
            section = self._fallback(section)
        if section["status"] == "ok":
            self._watch_xids(section)
            if self._follower is not None:
                self._follow_kernel_log(section["gpus"])
            if self._watcher is not None and self._watcher.reason:
                self._unavailable["xid_live"] = self._watcher.reason
            section["xid_events"] = self._xids.recent()
            section["unavailable"] = dict(self._unavailable)
        return section

    def _fallback(self, nvml_section: JsonDict) -> JsonDict:
        """nvidia-smi when NVML is unusable. A host with neither is asked again only every
        RETRY_INIT_S, as NVML's own init is: not a PATH search or a failing nvidia-smi run
        on every sample."""
        now = self._monotonic()
        if self._fallback_failure is not None and now < self._fallback_retry_at:
            return self._fallback_failure
        section = self._fallback_now(nvml_section)
        if section["status"] == "ok":
            self._fallback_failure = None
        else:
            self._fallback_failure = section
            self._fallback_retry_at = now + NvmlReader.RETRY_INIT_S
        return section

    def _fallback_now(self, nvml_section: JsonDict) -> JsonDict:
        if self._smi is None:
            executable = find_program("nvidia-smi")
            if executable is None:
                if nvml_section["status"] == "no_bindings" and not os.path.exists(
                    "/proc/driver/nvidia/version"
                ):
                    return {
                        "status": "no_driver",
                        "source": "none",
                        "gpus": [],
                        "reason": "no NVIDIA driver (no pynvml, no nvidia-smi, "
                        "no /proc/driver/nvidia)",
                    }
                return nvml_section
            self._smi = SmiReader(executable, self._process_info)
        section = self._smi.read()
        if section["status"] != "ok" and nvml_section["status"] == "no_driver":
            return nvml_section  # the library is missing: nvidia-smi's complaint adds nothing
        return section

    def _watch_xids(self, section: JsonDict) -> None:
        if self._watching:
            return
        self._watching = True
        gpus = section["gpus"]
        boot_time = self._clock() - self._monotonic()
        follower = KernelLogFollower(self._kernel_log, boot_time)
        history = follower.read_new(gpus)
        if history is None:
            self._unavailable["xid_history"] = (
                "kernel log not readable (%s): XIDs before the probe started are unknown"
                % follower.error
            )
        else:
            for event in history:
                self._xids.add(event)
        if section["source"] == "nvml":
            follower.close()
            self._watcher = XidWatcher(self._nvml.module, self._xids, self._clock, self._runner)
            self._watcher.start(gpus)
        elif history is not None:
            self._follower = follower  # no NVML events: new kernel-log lines are the feed
        else:
            self._unavailable["xid_live"] = (
                "no NVML and no readable kernel log: XIDs are not watched"
            )

    def _follow_kernel_log(self, gpus: List[JsonDict]) -> None:
        assert self._follower is not None
        for event in self._follower.read_new(gpus) or []:
            self._xids.add(event)


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class Sampler:
    """Takes samples of one host; keeps the previous counters so that rates can be computed."""

    def __init__(
        self,
        name: Optional[str] = None,
        root: str = "/",
        gpu_reader: Any = None,
        statvfs: Callable[[str], Any] = os.statvfs,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        kernel_log: Optional[str] = None,
    ) -> None:
        self.host = Host(root)
        self._name = clip(name) if name else None
        # One set of worker threads for every call that may hang (see DeadlineRunner).
        self.runner = DeadlineRunner()
        self._statvfs = StatvfsGuard(statvfs, runner=self.runner)
        self._clock = clock
        self._monotonic = monotonic
        self.gpu_reader = (
            gpu_reader
            if gpu_reader is not None
            else GpuReader(
                ProcessInfo(self.host, monotonic, self.runner),
                monotonic,
                kernel_log if kernel_log is not None else self.host.path(KERNEL_LOG[1:]),
                clock,
                self.runner,
            )
        )
        self._seq = 0
        self._previous_at: Optional[float] = None
        self._previous_cpu: Dict[str, Tuple[int, int]] = {}
        self._previous_disks: Dict[str, Tuple[int, int, int, int]] = {}
        self._previous_nics: Dict[str, Dict[str, int]] = {}
        self._previous_ib: Dict[str, Tuple[int, int]] = {}
        # Fixed for the life of the process: read once.
        kernel = self.host.read("proc/sys/kernel/osrelease")
        self._kernel = clip(kernel.strip()) if kernel else None
        self._python_version = "%d.%d.%d" % sys.version_info[:3]
        self._nic_is_virtual: Dict[str, bool] = {}

    def sample(self) -> JsonDict:
        now = self._monotonic()
        elapsed = 0.0 if self._previous_at is None else now - self._previous_at
        collected_at = self._clock()
        truncated: Dict[str, str] = {}
        gpu = self._gpu()
        truncated.update(gpu.pop("truncated", None) or {})
        sample: JsonDict = {
            "seq": self._seq,
            "collected_at": collected_at,
            "identity": self._identity(),
            "cpu": self._cpu(elapsed),
            "memory": self._memory(),
            "filesystems": self._filesystems(truncated),
            "disks": keep_first(self._disks(elapsed), MAX_DISKS, "disks", truncated),
            "nics": self._nics(elapsed, truncated),
            "ib_ports": keep_first(self._ib_ports(elapsed), MAX_IB_PORTS, "ib_ports", truncated),
            "gpu": gpu,
        }
        if truncated:
            sample["truncated"] = truncated
        sample["probe_cpu_s"] = time.process_time()
        self._previous_at = now
        self._seq += 1
        return sample

    # -- sections ----------------------------------------------------------------------------

    def _identity(self) -> JsonDict:
        hostname = clip(
            (
                self.host.read("proc/sys/kernel/hostname", keep_open=True) or os.uname().nodename
            ).strip()
        )
        uptime = self.host.read("proc/uptime", keep_open=True)
        return {
            "name": self._name or hostname,
            "hostname": hostname,
            "kernel": self._kernel,
            "uptime_s": parse_uptime(uptime) if uptime else None,
            "probe_version": PROBE_VERSION,
            "python_version": self._python_version,
        }

    def _cpu(self, elapsed: float) -> JsonDict:
        unavailable: Dict[str, str] = {}
        cpu: JsonDict = {"count": os.cpu_count() or 0, "unavailable": unavailable}
        loadavg_text = self.host.read("proc/loadavg", keep_open=True)
        loadavg = parse_loadavg(loadavg_text) if loadavg_text else None
        if loadavg is not None:
            cpu["load1"], cpu["load5"], cpu["load15"] = loadavg
        else:
            unavailable["load1"] = unavailable["load5"] = unavailable["load15"] = (
                "/proc/loadavg unreadable"
            )
        stat_text = self.host.read("proc/stat", keep_open=True)
        if stat_text is None:
            unavailable["total_percent"] = unavailable["per_core_percent"] = "/proc/stat unreadable"
            return cpu
        stat = parse_proc_stat(stat_text)
        if "cpu" not in stat:
            self._previous_cpu = {}
            unavailable["total_percent"] = unavailable["per_core_percent"] = (
                "/proc/stat has no cpu line"
            )
            return cpu
        cores = sorted((n for n in stat if n != "cpu"), key=lambda n: int(n[3:]))
        cpu["count"] = len(cores) or cpu["count"]
        previous, self._previous_cpu = self._previous_cpu, stat

        def busy_percent(name: str) -> Optional[float]:
            if name not in previous or name not in stat:
                return None
            total = stat[name][0] - previous[name][0]
            idle = stat[name][1] - previous[name][1]
            if total <= 0:
                return 0.0 if total == 0 else None
            return round(100.0 * (total - idle) / total, 1)

        cpu["total_percent"] = busy_percent("cpu")
        per_core = [busy_percent(name) for name in cores]
        cpu["per_core_percent"] = None if None in per_core else per_core
        if not previous:
            unavailable["total_percent"] = unavailable["per_core_percent"] = FIRST_SAMPLE
        elif cpu["total_percent"] is None or cpu["per_core_percent"] is None:
            unavailable["total_percent"] = unavailable["per_core_percent"] = COUNTER_RESET
        return cpu

    def _memory(self) -> JsonDict:
        text = self.host.read("proc/meminfo", keep_open=True)
        if text is None:
            return {"unavailable": {"total_bytes": "/proc/meminfo unreadable"}}
        info = parse_meminfo(text)
        total = info.get("MemTotal")
        # MemAvailable exists since Linux 3.14; older kernels get the classic estimate.
        available = info.get("MemAvailable")
        if available is None and total is not None:
            available = info.get("MemFree", 0) + info.get("Buffers", 0) + info.get("Cached", 0)
        swap_total = info.get("SwapTotal")
        swap_free = info.get("SwapFree")
        return {
            "total_bytes": total,
            "available_bytes": available,
            "used_bytes": None if total is None or available is None else total - available,
            "swap_total_bytes": swap_total,
            "swap_used_bytes": (
                None if swap_total is None or swap_free is None else swap_total - swap_free
            ),
            "unavailable": {},
        }

    def _filesystems(self, truncated: Dict[str, str]) -> List[JsonDict]:
        text = self.host.read("proc/self/mounts", keep_open=True)
        if text is None:
            return []
        # Any user can make FUSE mounts (hundreds of them): those come last, and the list is
        # cut before asking statvfs, so that neither the sample nor its cost can grow without
        # bound. The order is otherwise the mount order, / first.
        mounts = parse_mounts(text)
        mounts.sort(key=lambda mount: mount[2].startswith("fuse"))
        mounts = keep_first(mounts, MAX_FILESYSTEMS, "filesystems", truncated, " (FUSE last)")
        result = []
        for device, mount, fstype in mounts:
            entry: JsonDict = {
                "mount": clip(mount),
                "device": clip(device),
                "fstype": clip(fstype),
                "unavailable": {},
            }
            try:
                stats = self._statvfs(mount, fstype)
            except OSError as error:
                reason = _first_line(error.strerror or error)
                entry["unavailable"] = {
                    "size_bytes": reason,
                    "used_bytes": reason,
                    "free_bytes": reason,
                }
            else:
                if stats.f_blocks == 0:
                    continue  # size-less mounts (e.g. some overlays, /proc-like FUSE): no data
                entry["size_bytes"] = stats.f_blocks * stats.f_frsize
                entry["free_bytes"] = stats.f_bavail * stats.f_frsize
                entry["used_bytes"] = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
            result.append(entry)
        return result

    def _disks(self, elapsed: float) -> List[JsonDict]:
        text = self.host.read("proc/diskstats", keep_open=True)
        if text is None:
            return []
        whole_disks = set(self.host.listdir("sys/block"))
        stats = parse_diskstats(text)
        previous, self._previous_disks = self._previous_disks, stats
        result = []
        for name in sorted(stats):
            if whole_disks and name not in whole_disks:
                continue  # a partition: its I/O is already in its disk's line
            if name.startswith(SKIPPED_DISK_PREFIXES):
                continue
            entry: JsonDict = {"name": clip(name), "unavailable": {}}
            old = previous.get(name)
            fields = (
                ("read_iops", 0, 1),
                ("read_bytes_per_s", 1, SECTOR_BYTES),
                ("write_iops", 2, 1),
                ("write_bytes_per_s", 3, SECTOR_BYTES),
            )
            for field, position, scale in fields:
                rate, reason = _rate(
                    stats[name][position], None if old is None else old[position], elapsed
                )
                entry[field] = None if rate is None else rate * scale
                if reason:
                    entry["unavailable"][field] = reason
            result.append(entry)
        return result

    def _nics(self, elapsed: float, truncated: Dict[str, str]) -> List[JsonDict]:
        text = self.host.read("proc/net/dev", keep_open=True)
        if text is None:
            return []
        counters = parse_net_dev(text)
        previous, self._previous_nics = self._previous_nics, counters
        # A container host has hundreds of veths: devices first, so none of them is cut.
        names = sorted((self._virtual(name), name) for name in counters if name != "lo")
        names = keep_first(names, MAX_NICS, "nics", truncated, " (devices first)")
        result = []
        for virtual, name in sorted(names, key=lambda entry: entry[1]):
            values = counters[name]
            unavailable: Dict[str, str] = {}
            entry: JsonDict = {
                "name": clip(name),
                "virtual": virtual,
                "rx_errors": values["rx_errors"],
                "tx_errors": values["tx_errors"],
                "rx_drops": values["rx_drops"],
                "tx_drops": values["tx_drops"],
                "unavailable": unavailable,
            }
            state = self.host.read("sys/class/net/%s/operstate" % name, keep_open=True)
            entry["state"] = clip(state.strip()) if state else None
            entry["speed_mbps"] = _nic_speed(
                self.host.read("sys/class/net/%s/speed" % name, keep_open=True)
            )
            if entry["speed_mbps"] is None:
                unavailable["speed_mbps"] = "not reported (link down or virtual interface)"
            old = previous.get(name)
            for direction in ("rx", "tx"):
                rate, reason = _rate(
                    values[direction + "_bytes"],
                    None if old is None else old[direction + "_bytes"],
                    elapsed,
                )
                entry[direction + "_bytes_per_s"] = rate
                if reason:
                    unavailable[direction + "_bytes_per_s"] = reason
            result.append(entry)
        return result

    def _virtual(self, nic: str) -> bool:
        """A NIC without a backing device (bridge, veth, bond, ...); asked once per name."""
        if nic not in self._nic_is_virtual:
            if len(self._nic_is_virtual) > 4096:  # hosts that churn veths: do not grow forever
                self._nic_is_virtual.clear()
            device = self.host.path("sys/class/net/%s/device" % nic)
            self._nic_is_virtual[nic] = not os.path.exists(device)
        return self._nic_is_virtual[nic]

    def _ib_ports(self, elapsed: float) -> List[JsonDict]:
        result = []
        current: Dict[str, Tuple[int, int]] = {}
        for device in self.host.listdir("sys/class/infiniband"):
            ports_dir = "sys/class/infiniband/%s/ports" % device
            for port in self.host.listdir(ports_dir):
                if not _is_number(port):
                    continue
                base = "%s/%s/" % (ports_dir, port)
                unavailable: Dict[str, str] = {}
                entry: JsonDict = {
                    "device": clip(device),
                    "port": int(port),
                    "unavailable": unavailable,
                }
                for field, filename in (("state", "state"), ("phys_state", "phys_state")):
                    text = self.host.read(base + filename, keep_open=True)
                    entry[field] = clip(parse_ib_state(text)) if text else None
                rate_text = self.host.read(base + "rate", keep_open=True)
                entry["rate"] = clip(rate_text.strip()) if rate_text else None
                entry["rate_gbps"] = parse_ib_rate(rate_text) if rate_text else None
                link_layer = self.host.read(base + "link_layer")
                entry["link_layer"] = clip(link_layer.strip()) if link_layer else None
                for field, counter in (
                    ("symbol_errors", "symbol_error"),
                    ("link_downed", "link_downed"),
                ):
                    entry[field] = _int_or_none(
                        self.host.read(base + "counters/" + counter, keep_open=True)
                    )
                    if entry[field] is None:
                        unavailable[field] = "counters/%s unreadable" % counter
                # port_{rcv,xmit}_data count 4-byte words (IBA spec), not bytes.
                rx_words = _int_or_none(
                    self.host.read(base + "counters/port_rcv_data", keep_open=True)
                )
                tx_words = _int_or_none(
                    self.host.read(base + "counters/port_xmit_data", keep_open=True)
                )
                key = "%s/%s" % (device, port)
                old = self._previous_ib.get(key)
                if rx_words is not None and tx_words is not None:
                    current[key] = (rx_words, tx_words)
                for position, (field, words) in enumerate(
                    (("rx_bytes_per_s", rx_words), ("tx_bytes_per_s", tx_words))
                ):
                    if words is None:
                        entry[field] = None
                        unavailable[field] = "data counters unreadable"
                        continue
                    rate, reason = _rate(words, None if old is None else old[position], elapsed)
                    entry[field] = None if rate is None else rate * 4
                    if reason:
                        unavailable[field] = reason
                result.append(entry)
        self._previous_ib = current
        return result

    def _gpu(self) -> JsonDict:
        try:
            return self.gpu_reader.read()  # type: ignore[no-any-return, unused-ignore]
        except Exception as error:
            return {
                "status": "error",
                "source": "nvml",
                "gpus": [],
                "reason": "GPU read failed: %s: %s" % (type(error).__name__, _first_line(error)),
            }


def _int_or_none(text: Optional[str]) -> Optional[int]:
    try:
        return int(text.strip()) if text else None
    except ValueError:
        return None


def _nic_speed(text: Optional[str]) -> Optional[int]:
    speed = _int_or_none(text)
    # The kernel reports -1 (or 4294967295 on older kernels) for "unknown".
    if speed is None or speed <= 0 or speed >= 0xFFFFFFFF:
        return None
    return speed


# --------------------------------------------------------------------------------------------
# Program: one JSON document per line, per interval.
# --------------------------------------------------------------------------------------------


def delay_to_next_tick(now: float, interval: float) -> float:
    """Seconds from ``now`` (wall clock) to the next whole multiple of ``interval``.

    Hosts whose clocks are synchronised then all sample at the same instant, so one refresh
    of the console shows one moment across the fleet, and a late host is plain to see.
    """
    return interval - (now % interval)


def _not_json(value: object) -> object:
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


_JSON_CHECK = {"a": [1, 2.5, None, True, "\u00e9"], "b": {"c": -1}}
_JSON_CHECK_TEXT = '{"a":[1,2.5,null,true,"\\u00e9"],"b":{"c":-1}}'


def dumps(value: object) -> str:
    """``json.dumps(value, separators=(",", ":"))`` without the json package's import cost."""
    return (_ENCODER or _make_encoder())(value)


_ENCODER: Optional[Callable[[object], str]] = None


def _make_encoder() -> Callable[[object], str]:
    """The encoder json.dumps builds from _json's C accelerator, built here the same way so
    that the json package (re, enum, functools: ~7 ms of start-up on every host) is never
    imported. The json package is the fallback wherever that accelerator is missing or does
    not write what json.dumps writes."""
    global _ENCODER
    try:
        from _json import encode_basestring_ascii, make_encoder

        encoder = make_encoder(
            None, _not_json, encode_basestring_ascii, None, ":", ",", False, False, True
        )
        if "".join(encoder(_JSON_CHECK, 0)) != _JSON_CHECK_TEXT:
            raise ValueError("unexpected _json encoder")

        def encode(value: object) -> str:
            return "".join(encoder(value, 0))

    except Exception:
        import json

        def encode(value: object) -> str:
            return json.dumps(value, separators=(",", ":"))

    _ENCODER = encode
    return encode


def encode_sample(sample: JsonDict) -> str:
    """The sample as one line of JSON, never longer than MAX_SAMPLE_BYTES."""
    line = dumps(sample)
    if len(line) > MAX_SAMPLE_BYTES:
        line = dumps(shrink_sample(sample, len(line)))
    return line


def shrink_sample(sample: JsonDict, size: int) -> JsonDict:
    """The sample with every list of entries cut to SHRUNK_LIST_ITEMS and all text clipped to
    SHRUNK_TEXT_BYTES, and its "truncated" map saying so.

    What is left is bounded whatever the host holds: the other text is the probe's own field
    names, and the lists of numbers (per-core CPU) are bounded by the hardware.
    """
    small: JsonDict = _shrunk(sample)
    truncated = small.setdefault("truncated", {})
    truncated["sample"] = "%d bytes, over the %d-byte limit: lists cut to %d, text to %d bytes" % (
        size,
        MAX_SAMPLE_BYTES,
        SHRUNK_LIST_ITEMS,
        SHRUNK_TEXT_BYTES,
    )
    return small


def _shrunk(value: Any) -> Any:
    if isinstance(value, str):
        return clip(value, SHRUNK_TEXT_BYTES)
    if isinstance(value, dict):
        return {key: _shrunk(item) for key, item in value.items()}
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            value = value[:SHRUNK_LIST_ITEMS]
        return [_shrunk(item) for item in value]
    return value


def stream(
    sampler: Sampler,
    interval: float,
    count: Optional[int],
    out: Any,
    align: bool = False,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Write samples on a fixed schedule: ticks never drift with sampling time, and a slow
    sample skips ticks rather than bursting to catch up. With ``align`` the first sample is
    taken at once and the rest on wall-clock multiples of ``interval``."""
    next_tick = clock()
    taken = 0
    while count is None or taken < count:
        out.write(encode_sample(sampler.sample()) + "\n")
        out.flush()
        taken += 1
        if count is not None and taken >= count:
            break
        now = clock()
        if align:
            delay = delay_to_next_tick(now, interval)
        else:
            next_tick += interval
            delay = next_tick - now
            if delay <= 0:
                next_tick, delay = now, 0.0
        if delay > 0:
            sleep(delay)


USAGE = """usage: aiconsole-probe [--interval S] [--count N] [--name NAME] [--root DIR] [--align]
                       [--kernel-log FILE] [--version]

Print one JSON document per interval on stdout.

  --interval S   seconds between samples (default 1)
  --count N      stop after N samples (default: run until the reader goes away)
  --name NAME    name to report (default: the hostname)
  --root DIR     read /proc and /sys under DIR (default /)
  --align        sample on wall-clock multiples of the interval
  --kernel-log FILE
                 read XID history from FILE, /dev/kmsg or saved dmesg text
                 (default: /dev/kmsg under --root)
  --version      print the probe's version
"""


class UsageError(Exception):
    pass


def parse_args(argv: List[str]) -> Dict[str, Any]:
    """A small argument parser: argparse costs ~10 ms of start-up, paid on every host."""
    options: Dict[str, Any] = {
        "interval": 1.0,
        "count": None,
        "name": None,
        "root": "/",
        "align": False,
        "kernel_log": None,
    }
    converters: Dict[str, Callable[[str], Any]] = {
        "--interval": float,
        "--count": int,
        "--name": str,
        "--root": str,
        "--kernel-log": str,
    }
    words = list(argv)
    while words:
        word = words.pop(0)
        flag, inline_value = word.split("=", 1) if "=" in word else (word, None)
        if flag == "--align" and inline_value is None:
            options["align"] = True
        elif flag in converters:
            value = inline_value if inline_value is not None else (words.pop(0) if words else None)
            if value is None:
                raise UsageError("%s needs a value" % flag)
            try:
                options[flag[2:].replace("-", "_")] = converters[flag](value)
            except ValueError:
                raise UsageError("%s: invalid value %r" % (flag, value)) from None
        else:
            raise UsageError("unrecognised argument %r" % word)
    if options["interval"] <= 0:
        raise UsageError("--interval must be positive")
    if options["count"] is not None and options["count"] < 1:
        raise UsageError("--count must be at least 1")
    return options


def main(argv: Optional[List[str]] = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if "-h" in words or "--help" in words:
        sys.stdout.write(USAGE)
        return 0
    if "--version" in words:
        sys.stdout.write(PROBE_VERSION + "\n")
        return 0
    try:
        options = parse_args(words)
    except UsageError as error:
        sys.stderr.write("aiconsole-probe: %s\n%s" % (error, USAGE.split("\n\n")[0] + "\n"))
        return 2
    try:
        stream(
            Sampler(name=options["name"], root=options["root"], kernel_log=options["kernel_log"]),
            options["interval"],
            options["count"],
            sys.stdout,
            align=options["align"],
        )
    except (BrokenPipeError, KeyboardInterrupt):
        # The reader went away (SSH session closed): a normal way to end.
        try:
            sys.stdout.close()
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
