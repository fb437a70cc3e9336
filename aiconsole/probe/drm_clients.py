"""GPU processes of any DRM driver from ``/proc/PID/fdinfo`` (the kernel's drm-usage-stats).

Each open DRM file of a process has an fdinfo with ``drm-driver``, ``drm-pdev`` (the PCI
address), ``drm-client-id``, ``drm-memory-<region>`` (``vram``, ``gtt``, ... with a unit) and
``drm-engine-<name>`` (nanoseconds busy, cumulative). Several fds of one process can be the
same client (dup, fork): clients are counted once, by (pdev, client id). Engine percentages
need two samples, as every rate here.

Finding DRM fds means reading every process's fd links: that is done in full only every
RESCAN_S seconds; in between, only the fds already known to be DRM files are re-read.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Set, Tuple

    JsonDict = Dict[str, Any]

RESCAN_S = 10.0
UNITS = {"": 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
MAX_CLIENTS = 4096


def parse_fdinfo(text: str) -> Optional[JsonDict]:
    """The drm-* keys of one fdinfo, or None if it is not a DRM client."""
    fields: Dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.startswith("drm-"):
            fields[key] = value.strip()
    if "drm-driver" not in fields or "drm-client-id" not in fields:
        return None
    client: JsonDict = {
        "driver": fields["drm-driver"],
        "pdev": fields.get("drm-pdev"),
        "client_id": fields["drm-client-id"],
        "memory": {},
        "engines": {},
    }
    for key, value in fields.items():
        parts = value.split()
        if not parts or not parts[0].isascii() or not parts[0].isdigit():
            continue
        if key.startswith("drm-memory-"):
            unit = parts[1] if len(parts) > 1 else ""
            if unit in UNITS:
                client["memory"][key[len("drm-memory-") :]] = int(parts[0]) * UNITS[unit]
        elif (
            key.startswith("drm-engine-")
            and not key.startswith("drm-engine-capacity-")
            and (len(parts) == 1 or parts[1] == "ns")
        ):
            client["engines"][key[len("drm-engine-") :]] = int(parts[0])
    return client


class DrmClients:
    """Per GPU (PCI address), the processes using it, their memory and engine use."""

    def __init__(self, host: Any, monotonic: Callable[[], float]) -> None:
        self._host = host
        self._monotonic = monotonic
        self._known: Set[Tuple[str, str]] = set()
        """(pid, fd) pairs known to be DRM files."""
        self._scanned_at: Optional[float] = None
        self._previous: Dict[Tuple[Optional[str], str], Tuple[float, Dict[str, int]]] = {}

    def _scan(self) -> None:
        known: Set[Tuple[str, str]] = set()
        for pid in self._host.listdir("proc"):
            if not pid.isdigit():
                continue
            for fd in self._host.listdir("proc/" + pid + "/fd"):
                target = self._host.readlink("proc/" + pid + "/fd/" + fd)
                if target is not None and target.startswith("/dev/dri/"):
                    known.add((pid, fd))
                    if len(known) >= MAX_CLIENTS:
                        self._known = known
                        return
        self._known = known

    def read(self) -> Dict[str, List[JsonDict]]:
        """PCI address -> [{pid, memory_bytes, engine_percent, engines}] (one per client)."""
        now = self._monotonic()
        if self._scanned_at is None or now - self._scanned_at >= RESCAN_S:
            self._scan()
            self._scanned_at = now
        clients: Dict[Tuple[Optional[str], str], JsonDict] = {}
        gone = set()
        for pid, fd in sorted(self._known):
            text = self._host.read("proc/" + pid + "/fdinfo/" + fd)
            client = parse_fdinfo(text) if text is not None else None
            if client is None:
                gone.add((pid, fd))
                continue
            client["pid"] = int(pid)
            clients.setdefault((client["pdev"], client["client_id"]), client)
        self._known -= gone
        by_gpu: Dict[str, List[JsonDict]] = {}
        previous, self._previous = self._previous, {}
        for key, client in clients.items():
            self._previous[key] = (now, client["engines"])
            before = previous.get(key)
            client["engine_percent"] = None
            if before is not None and now > before[0] and client["engines"]:
                busy = max(
                    client["engines"].get(name, 0) - before[1].get(name, 0)
                    for name in client["engines"]
                )
                client["engine_percent"] = max(0.0, min(100.0, busy / ((now - before[0]) * 1e7)))
            if client["pdev"]:
                by_gpu.setdefault(client["pdev"], []).append(client)
        return by_gpu
