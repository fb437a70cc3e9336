"""Parsers for /proc files: CPU, load, uptime, memory, mounts, disks, process owners."""

from __future__ import annotations

from aiconsole.probe.common import _finite, _is_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple


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


def parse_uid(status_text: str) -> Optional[int]:
    """Real UID from ``/proc/PID/status``."""
    for line in status_text.splitlines():
        if line.startswith("Uid:"):
            fields = line.split()
            return int(fields[1]) if len(fields) > 1 and _is_number(fields[1]) else None
    return None
