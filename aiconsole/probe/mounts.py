"""Shared filesystems: NFS client RTT and retransmissions per mount (``/proc/self/mountstats``)
and Lustre client read/write bytes (``llite/*/stats``).

Both files hold cumulative counters; the rates and per-call times are differences between two
samples, so the first sample reports them as unavailable.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    JsonDict = Dict[str, Any]

MOUNTSTATS = "proc/self/mountstats"
LLITE_DIRS = ("sys/kernel/debug/lustre/llite", "proc/fs/lustre/llite")
NFS_TYPES = ("nfs", "nfs4")


def _ints(words: List[str]) -> Optional[List[int]]:
    if not all(w.isascii() and w.isdigit() for w in words):
        return None
    return [int(w) for w in words]


def parse_mountstats(text: str) -> Dict[str, JsonDict]:
    """Mount point -> {fstype, server, ops, retrans, rtt_ms, exe_ms} summed over NFS calls.

    A per-op line is ``NAME: ops trans timeouts bytes_sent bytes_recv queue_ms rtt_ms
    execute_ms [errors]``; transmissions beyond one per op are retransmissions.
    """
    mounts: Dict[str, JsonDict] = {}
    current: Optional[JsonDict] = None
    in_ops = False
    for line in text.splitlines():
        if line.startswith("device "):
            words = line.split()
            current, in_ops = None, False
            # device SERVER:/export mounted on /mnt with fstype nfs4 statvers=1.1
            if (
                len(words) >= 8
                and words[2:4] == ["mounted", "on"]
                and words[5:7] == ["with", "fstype"]
                and words[7] in NFS_TYPES
            ):
                current = {
                    "fstype": words[7],
                    "server": words[1],
                    "ops": 0,
                    "retrans": 0,
                    "timeouts": 0,
                    "rtt_ms": 0,
                    "exe_ms": 0,
                }
                mounts[words[4]] = current
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped == "per-op statistics":
            in_ops = True
            continue
        if in_ops and ":" in stripped:
            _, _, rest = stripped.partition(":")
            numbers = _ints(rest.split())
            if numbers is None or len(numbers) < 8:
                continue
            ops, trans, timeouts, _sent, _recv, _queue, rtt, exe = numbers[:8]
            current["ops"] += ops
            current["retrans"] += max(0, trans - ops)
            current["timeouts"] += timeouts
            current["rtt_ms"] += rtt
            current["exe_ms"] += exe
    return mounts


def parse_llite_stats(text: str) -> Tuple[Optional[int], Optional[int]]:
    """``read_bytes N samples [bytes] MIN MAX SUM`` -> (read sum, write sum)."""
    totals: Dict[str, int] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 7 and words[0] in ("read_bytes", "write_bytes") and words[6].isdigit():
            totals[words[0]] = int(words[6])
    return totals.get("read_bytes"), totals.get("write_bytes")


class SharedFilesystems:
    """Per mount: NFS RTT/retransmissions per interval, Lustre read/write bytes per second."""

    def __init__(self, host: Any) -> None:
        self._host = host
        self._previous: Dict[str, Tuple[float, JsonDict]] = {}

    def read(self, now: float) -> Dict[str, JsonDict]:
        stats: Dict[str, JsonDict] = {}
        text = self._host.read(MOUNTSTATS)
        for mount, counters in parse_mountstats(text or "").items():
            stats[mount] = self._nfs(mount, counters, now)
        for directory in LLITE_DIRS:
            for name in self._host.listdir(directory):
                read, written = parse_llite_stats(
                    self._host.read(directory + "/" + name + "/stats") or ""
                )
                if read is None and written is None:
                    continue
                fsname = name.rsplit("-", 1)[0]
                stats["lustre:" + fsname] = self._lustre(fsname, read, written, now)
            if stats and any(k.startswith("lustre:") for k in stats):
                break  # the same counters are in both places on some kernels
        return stats

    def _nfs(self, mount: str, counters: JsonDict, now: float) -> JsonDict:
        entry: JsonDict = {
            "kind": "nfs",
            "server": counters["server"],
            "fstype": counters["fstype"],
            "rtt_ms": None,
            "retrans_per_s": None,
            "unavailable": {},
        }
        before = self._previous.get(mount)
        self._previous[mount] = (now, counters)
        if before is None or now <= before[0]:
            entry["unavailable"]["rtt_ms"] = "first sample: rates need two samples"
            return entry
        seconds, old = now - before[0], before[1]
        ops = counters["ops"] - old["ops"]
        if ops < 0:
            entry["unavailable"]["rtt_ms"] = "counter went backwards (remounted)"
            return entry
        entry["rtt_ms"] = (counters["rtt_ms"] - old["rtt_ms"]) / ops if ops else None
        if not ops:
            entry["unavailable"]["rtt_ms"] = "no NFS calls in this interval"
        entry["retrans_per_s"] = max(0, counters["retrans"] - old["retrans"]) / seconds
        return entry

    def _lustre(
        self, fsname: str, read: Optional[int], written: Optional[int], now: float
    ) -> JsonDict:
        key = "lustre:" + fsname
        entry: JsonDict = {
            "kind": "lustre",
            "fsname": fsname,
            "read_bytes_per_s": None,
            "write_bytes_per_s": None,
            "unavailable": {},
        }
        counters = {"read": read, "write": written}
        before = self._previous.get(key)
        self._previous[key] = (now, counters)
        if before is None or now <= before[0]:
            entry["unavailable"]["read_bytes_per_s"] = "first sample: rates need two samples"
            return entry
        seconds = now - before[0]
        for name, field in (("read", "read_bytes_per_s"), ("write", "write_bytes_per_s")):
            value, old = counters[name], before[1].get(name)
            if value is not None and old is not None and value >= old:
                entry[field] = (value - old) / seconds
        return entry
