"""Storage health: NVMe drives (SMART health log) and shared filesystems (does each network
or parallel filesystem answer, how fast, NFS RTT and retransmissions, Lustre rates).

NVMe health changes slowly and reading it runs ``nvme`` once per drive, so it is read every
NVME_INTERVAL_S and repeated in between. Whether a shared mount answers is measured on every
sample by the statvfs the filesystem table already makes (with its deadline).
"""

from __future__ import annotations

import os
import time

from aiconsole.probe.commands import find_program, run_command
from aiconsole.probe.common import _first_line, clip

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Tuple

    from aiconsole.probe.common import JsonDict
    from aiconsole.probe.mounts import SharedFilesystems
    from aiconsole.probe.nvme import NvmeReader

    # mount, device, fstype, statvfs seconds (None: no answer), hung, reason
    StatvfsResult = Tuple[str, str, str, Optional[float], bool, Optional[str]]

NVME = "sys/class/nvme"
NVME_INTERVAL_S = 60.0
MAX_NVME_DRIVES = 64
# fstype -> the kind an operator knows the filesystem by.
SHARED_KINDS = {
    "nfs": "nfs",
    "nfs4": "nfs",
    "lustre": "lustre",
    "gpfs": "gpfs",
    "beegfs": "beegfs",
    "ceph": "cephfs",
    "fuse.ceph": "cephfs",
    "fuse.ceph-fuse": "cephfs",
    "wekafs": "wekafs",
}


def shared_kind(fstype: str) -> Optional[str]:
    return SHARED_KINDS.get(fstype)


def _lustre_fsname(device: str) -> str:
    """``10.0.0.1@o2ib:/scratch`` -> ``scratch``."""
    return device.rsplit(":/", 1)[-1].strip("/") or device


class Storage:
    def __init__(
        self,
        host: Any,
        monotonic: Callable[[], float] = time.monotonic,
        find: Callable[[str], Optional[str]] = find_program,
        run: Callable[[List[str]], Any] = run_command,
        is_root: Optional[bool] = None,
    ) -> None:
        self._host = host
        self._monotonic = monotonic
        # The ioctl opens /dev/nvmeN of the machine the probe runs on: only when the tree
        # read is that machine's own.
        if is_root is None:
            is_root = os.geteuid() == 0 and os.path.realpath(host.root) == "/"
        self._is_root = is_root
        self._find = find
        self._run = run
        # Each reader is compiled only on a host that has what it reads.
        self._nvme: Optional[NvmeReader] = None
        self._nvme_read_at: Optional[float] = None
        self._nvme_drives: List[JsonDict] = []
        self._shared: Optional[SharedFilesystems] = None

    def nvme(self) -> List[JsonDict]:
        now = self._monotonic()
        if self._nvme_read_at is None or now - self._nvme_read_at >= NVME_INTERVAL_S:
            self._nvme_read_at = now
            if not self._host.listdir(NVME):
                self._nvme_drives = []
                return []
            if self._nvme is None:
                from aiconsole.probe.nvme import NvmeReader

                self._nvme = NvmeReader(self._host, self._run, self._is_root, self._find("nvme"))
            try:
                drives = self._nvme.read()[:MAX_NVME_DRIVES]
            except Exception as error:  # a reader bug must not cost the whole sample
                drives = [{"name": "nvme", "unavailable": {"health": _first_line(error)}}]
            for drive in drives:
                for field in ("name", "model", "serial", "firmware"):
                    if isinstance(drive.get(field), str):
                        drive[field] = clip(drive[field])
                drive["unavailable"] = {
                    key: clip(value) for key, value in (drive.get("unavailable") or {}).items()
                }
            self._nvme_drives = drives
        return self._nvme_drives

    def shared_filesystems(self, statvfs: List[StatvfsResult]) -> List[JsonDict]:
        """One entry per shared mount the filesystem table asked statvfs about."""
        if not any(shared_kind(fstype) for _, _, fstype, _, _, _ in statvfs):
            return []
        if self._shared is None:
            from aiconsole.probe.mounts import SharedFilesystems

            self._shared = SharedFilesystems(self._host)
        try:
            counters = self._shared.read(self._monotonic())
        except Exception:  # counters are extra: the answering state stands without them
            counters = {}
        result = []
        for mount, device, fstype, seconds, hung, reason in statvfs:
            kind = shared_kind(fstype)
            if kind is None:
                continue
            server = device.split(":/", 1)[0] if kind == "nfs" else device
            entry: JsonDict = {
                "mount": clip(mount),
                "kind": kind,
                "server": clip(server),
                "answering": seconds is not None,
                "hung": hung,
                "statvfs_ms": None if seconds is None else round(seconds * 1000.0, 3),
                "unavailable": {},
            }
            if seconds is None:
                entry["unavailable"]["statvfs_ms"] = clip(reason or "statvfs failed")
            stats: Optional[JsonDict] = None
            if kind == "nfs":
                stats = counters.get(mount)
            elif kind == "lustre":
                fsname = _lustre_fsname(device)
                stats = counters.get("lustre:" + fsname)
                entry["server"] = clip(fsname)
            if stats is not None:
                for field in ("rtt_ms", "retrans_per_s", "read_bytes_per_s", "write_bytes_per_s"):
                    if field in stats:
                        entry[field] = stats[field]
                for field, why in stats.get("unavailable", {}).items():
                    entry["unavailable"][field] = clip(why)
            result.append(entry)
        return result
