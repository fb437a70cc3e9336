"""One host sample: identity, CPU, memory, filesystems, disks, NICs, InfiniBand, GPUs."""

from __future__ import annotations

import os
import sys
import time

from aiconsole.probe.accelerators import OtherAccelerators
from aiconsole.probe.common import (
    COUNTER_RESET,
    FIRST_SAMPLE,
    KERNEL_LOG,
    MAX_DISKS,
    MAX_FILESYSTEMS,
    MAX_IB_PORTS,
    MAX_NICS,
    PROBE_VERSION,
    SECTOR_BYTES,
    _first_line,
    _rate,
    clip,
    keep_first,
)
from aiconsole.probe.deadline import DeadlineRunner, StatvfsGuard, StatvfsHung
from aiconsole.probe.gpu import GpuReader
from aiconsole.probe.host import Host
from aiconsole.probe.ib import IbPorts
from aiconsole.probe.net import _nic_speed, parse_net_dev
from aiconsole.probe.proc import (
    SKIPPED_DISK_PREFIXES,
    parse_diskstats,
    parse_loadavg,
    parse_meminfo,
    parse_mounts,
    parse_proc_stat,
    parse_uptime,
)
from aiconsole.probe.processes import ProcessInfo
from aiconsole.probe.storage import Storage

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    from aiconsole.probe.common import JsonDict
    from aiconsole.probe.storage import StatvfsResult


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
        accelerators: Any = None,
        storage: Any = None,
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
        self.accelerators = (
            accelerators
            if accelerators is not None
            else OtherAccelerators(
                self.host, ProcessInfo(self.host, monotonic, self.runner), monotonic
            )
        )
        self.storage = storage if storage is not None else Storage(self.host, monotonic)
        self._statvfs_results: List[StatvfsResult] = []
        self._seq = 0
        self._previous_at: Optional[float] = None
        self._previous_cpu: Dict[str, Tuple[int, int]] = {}
        self._previous_disks: Dict[str, Tuple[int, int, int, int]] = {}
        self._previous_nics: Dict[str, Dict[str, int]] = {}
        self._ib = IbPorts(self.host)
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
            "ib_ports": keep_first(self._ib.read(elapsed), MAX_IB_PORTS, "ib_ports", truncated),
            "gpu": gpu,
        }
        self._storage(sample)
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
        self._statvfs_results = []
        for device, mount, fstype in mounts:
            entry: JsonDict = {
                "mount": clip(mount),
                "device": clip(device),
                "fstype": clip(fstype),
                "unavailable": {},
            }
            started = self._monotonic()
            try:
                stats = self._statvfs(mount, fstype)
            except OSError as error:
                reason = _first_line(error.strerror or error)
                hung = isinstance(error, StatvfsHung)
                self._statvfs_results.append((mount, device, fstype, None, hung, reason))
                entry["unavailable"] = {
                    "size_bytes": reason,
                    "used_bytes": reason,
                    "free_bytes": reason,
                }
            else:
                took = max(0.0, self._monotonic() - started)
                self._statvfs_results.append((mount, device, fstype, took, False, None))
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

    def _gpu(self) -> JsonDict:
        try:
            section: JsonDict = self.gpu_reader.read()
        except Exception as error:
            section = {
                "status": "error",
                "source": "nvml",
                "gpus": [],
                "reason": "GPU read failed: %s: %s" % (type(error).__name__, _first_line(error)),
            }
        try:
            return self.accelerators.add_to(section)  # type: ignore[no-any-return, unused-ignore]
        except Exception as error:  # the NVIDIA GPUs stand without the other vendors'
            section.setdefault("unavailable", {})["accelerators"] = "read failed: %s: %s" % (
                type(error).__name__,
                _first_line(error),
            )
            return section

    def _storage(self, sample: JsonDict) -> None:
        """NVMe health and shared mounts; a failure costs only these two sections."""
        try:
            sample["nvme"] = self.storage.nvme()
            sample["shared_filesystems"] = self.storage.shared_filesystems(self._statvfs_results)
        except Exception as error:
            sample["unavailable"] = {"nvme": "storage read failed: %s" % _first_line(error)}
