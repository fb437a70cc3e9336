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

import json
import os
import pwd
import sys
import time

# Start-up time is paid on every host at every connect: typing alone costs ~3 ms, and it is
# needed only by the type checker (annotations are never evaluated, see the future import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Any, Callable, Dict, List, Optional, Set, Tuple

    JsonDict = Dict[str, Any]

PROBE_VERSION = "0.1.0"

SECTOR_BYTES = 512  # /proc/diskstats always counts 512-byte sectors, whatever the device's
FIRST_SAMPLE = "first sample: rates need two samples"
COUNTER_RESET = "counter went backwards (reset or wrapped)"
NETWORK_STATVFS_TIMEOUT_S = 0.5

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
# statvfs on these can hang for minutes when the server is gone: ask from a thread.
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
        "fuse.glusterfs",
        "fuse.sshfs",
        "fuse.s3fs",
        "9p",
        "afs",
    ]
)
SKIPPED_DISK_PREFIXES = ("loop", "ram", "fd", "sr", "zram")

# --------------------------------------------------------------------------------------------
# Parsers: text in, plain data out. No I/O, so recorded files test them exactly.
# --------------------------------------------------------------------------------------------


def parse_proc_stat(text: str) -> Dict[str, Tuple[int, int]]:
    """``/proc/stat`` cpu lines -> {"cpu": (total_jiffies, idle_jiffies), "cpu0": ...}.

    guest and guest_nice are already counted in user and nice, so they are left out of the
    total; iowait counts as idle, as in top.
    """
    cpus: Dict[str, Tuple[int, int]] = {}
    for line in text.splitlines():
        if not line.startswith("cpu"):
            continue
        parts = line.split()
        values = [int(v) for v in parts[1:9]]
        values += [0] * (8 - len(values))
        idle = values[3] + values[4]
        cpus[parts[0]] = (sum(values), idle)
    return cpus


def parse_loadavg(text: str) -> Tuple[float, float, float]:
    one, five, fifteen = text.split()[:3]
    return float(one), float(five), float(fifteen)


def parse_meminfo(text: str) -> Dict[str, int]:
    """``/proc/meminfo`` -> {"MemTotal": bytes, ...}."""
    result = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if not fields:
            continue
        value = int(fields[0])
        if len(fields) > 1 and fields[1] == "kB":
            value *= 1024
        result[key.strip()] = value
    return result


def _unescape_mount_field(field: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as octal escapes.
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
        result[parts[2]] = (int(parts[3]), int(parts[5]), int(parts[7]), int(parts[9]))
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
        rx = values[0:4]
        tx = values[8:12]
        result[name.strip()] = dict(zip(NET_DEV_FIELDS, (int(v) for v in rx + tx)))
    return result


def parse_ib_state(text: str) -> str:
    """``4: ACTIVE`` -> ``ACTIVE`` (sysfs state and phys_state files)."""
    _, _, name = text.strip().partition(":")
    return name.strip() or text.strip()


def parse_ib_rate(text: str) -> Optional[float]:
    """``200 Gb/sec (4X HDR)`` -> 200.0; None when it does not start with a number."""
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        return None


def parse_uid(status_text: str) -> Optional[int]:
    """Real UID from ``/proc/PID/status``."""
    for line in status_text.splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
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


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else type(text).__name__


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

    def read(self, relative: str, keep_open: bool = False) -> Optional[str]:
        """The file's text, or None if it cannot be read (gone, no permission, EINVAL)."""
        fd = self._open.get(relative)
        try:
            if fd is None:
                fd = os.open(self.path(relative), os.O_RDONLY | os.O_CLOEXEC)
                if keep_open and len(self._open) < self.MAX_OPEN_FILES:
                    self._open[relative] = fd
            return self._read_all(fd).decode("utf-8", "replace")
        except OSError:
            self._forget(relative)
            return None
        finally:
            if fd is not None and relative not in self._open:
                os.close(fd)

    def _read_all(self, fd: int) -> bytes:
        chunks: List[bytes] = []
        offset = 0
        while True:
            chunk = os.pread(fd, self.READ_CHUNK, offset)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            offset += len(chunk)

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


class StatvfsGuard:
    """statvfs that cannot hang the probe on a dead network filesystem.

    Network mounts are asked from a daemon thread with a deadline; while a previous call on
    that mount is still stuck, the mount is reported as hung without asking again.
    """

    def __init__(
        self,
        statvfs: Callable[[str], Any] = os.statvfs,
        timeout_s: float = NETWORK_STATVFS_TIMEOUT_S,
    ) -> None:
        self._statvfs = statvfs
        self._timeout_s = timeout_s
        self._stuck: Dict[str, threading.Thread] = {}

    def __call__(self, mount: str, fstype: str) -> Any:
        if fstype not in NETWORK_FSTYPES:
            return self._statvfs(mount)
        stuck = self._stuck.get(mount)
        if stuck is not None:
            if stuck.is_alive():
                raise OSError("statvfs still hung from an earlier sample")
            del self._stuck[mount]
        box: Dict[str, Any] = {}

        def ask() -> None:
            try:
                box["result"] = self._statvfs(mount)
            except OSError as error:
                box["error"] = error

        import threading  # only hosts with network mounts pay for it

        thread = threading.Thread(target=ask, name="statvfs " + mount, daemon=True)
        thread.start()
        thread.join(self._timeout_s)
        if thread.is_alive():
            self._stuck[mount] = thread
            raise OSError("statvfs did not answer in %.1f s (server down?)" % self._timeout_s)
        if "error" in box:
            raise box["error"]
        return box["result"]


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


class ProcessInfo:
    """User and command line of a PID, from /proc (user names cached)."""

    def __init__(self, host: Host, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._host = host
        self._monotonic = monotonic
        self._users: Dict[int, str] = {}
        self._cpu_seen: Dict[int, Tuple[float, float]] = {}
        # The probe reads /proc, so it only ever runs on Linux, where sysconf always exists.
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")

    def usage(self, pid: int) -> Tuple[Optional[float], Optional[int]]:
        """CPU % of one core since this PID was last asked about, and resident memory."""
        stat = self._host.read("proc/%d/stat" % pid)
        statm = self._host.read("proc/%d/statm" % pid)
        rss = None
        if statm:
            fields = statm.split()
            if len(fields) > 1 and fields[1].isdigit():
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
                self._users[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                self._users[uid] = str(uid)
        return self._users[uid]

    def command(self, pid: int) -> Optional[str]:
        raw = self._host.read("proc/%d/cmdline" % pid)
        if not raw:
            # Kernel threads and zombies have an empty cmdline; comm is the best we have.
            comm = self._host.read("proc/%d/comm" % pid)
            return "[%s]" % comm.strip() if comm else None
        return raw.rstrip("\0").replace("\0", " ")


class NvmlReader:
    """GPUs through pynvml, initialised once per probe process.

    Every NVML call is wrapped: a call the driver does not support leaves that field ``None``
    with NVML's own message as the reason; a lost GPU is flagged and its siblings still read.
    """

    RETRY_INIT_S = 30.0

    def __init__(
        self,
        process_info: ProcessInfo,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._process_info = process_info
        self._monotonic = monotonic
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
            pynvml.nvmlInit()
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
        try:
            self._driver_version = _text(pynvml.nvmlSystemGetDriverVersion())
        except pynvml.NVMLError:
            self._driver_version = None
        self._cuda_version = self._read_cuda_version(pynvml)
        return None

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
            count = nvml.nvmlDeviceGetCount()
        except nvml.NVMLError as error:
            return {
                "status": "error",
                "source": "nvml",
                "gpus": [],
                "driver_version": self._driver_version,
                "reason": "nvmlDeviceGetCount failed: %s" % error,
            }
        gpus = [self._read_gpu(index) for index in range(count)]
        self._process_info.forget_except(
            {process["pid"] for gpu in gpus for process in gpu.get("processes", [])}
        )
        return {
            "status": "ok",
            "source": "nvml",
            "driver_version": self._driver_version,
            "cuda_driver_version": self._cuda_version,
            "gpus": gpus,
        }

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

    def _processes(self, ask: Callable[..., Any], handle: Any) -> List[JsonDict]:
        nvml = self._nvml
        found: Dict[int, JsonDict] = {}
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
                    if pid in found:
                        continue
                    used = process.usedGpuMemory
                    cpu_percent, rss = self._process_info.usage(pid)
                    found[pid] = {
                        "pid": pid,
                        "kind": kind,
                        "gpu_memory_bytes": None if used is None else int(used),
                        "user": self._process_info.user(pid),
                        "command": self._process_info.command(pid),
                        "cpu_percent": cpu_percent,
                        "rss_bytes": rss,
                    }
                break
        return sorted(found.values(), key=lambda p: p["pid"])


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
    ) -> None:
        self.host = Host(root)
        self._name = name
        self._statvfs = StatvfsGuard(statvfs)
        self._clock = clock
        self._monotonic = monotonic
        self.gpu_reader = (
            gpu_reader
            if gpu_reader is not None
            else NvmlReader(ProcessInfo(self.host, monotonic), monotonic)
        )
        self._seq = 0
        self._previous_at: Optional[float] = None
        self._previous_cpu: Dict[str, Tuple[int, int]] = {}
        self._previous_disks: Dict[str, Tuple[int, int, int, int]] = {}
        self._previous_nics: Dict[str, Dict[str, int]] = {}
        self._previous_ib: Dict[str, Tuple[int, int]] = {}
        # Fixed for the life of the process: read once.
        kernel = self.host.read("proc/sys/kernel/osrelease")
        self._kernel = kernel.strip() if kernel else None
        self._python_version = "%d.%d.%d" % sys.version_info[:3]
        self._nic_is_virtual: Dict[str, bool] = {}

    def sample(self) -> JsonDict:
        now = self._monotonic()
        elapsed = 0.0 if self._previous_at is None else now - self._previous_at
        sample = {
            "seq": self._seq,
            "collected_at": self._clock(),
            "identity": self._identity(),
            "cpu": self._cpu(elapsed),
            "memory": self._memory(),
            "filesystems": self._filesystems(),
            "disks": self._disks(elapsed),
            "nics": self._nics(elapsed),
            "ib_ports": self._ib_ports(elapsed),
            "gpu": self._gpu(),
        }
        sample["probe_cpu_s"] = time.process_time()
        self._previous_at = now
        self._seq += 1
        return sample

    # -- sections ----------------------------------------------------------------------------

    def _identity(self) -> JsonDict:
        hostname = (
            self.host.read("proc/sys/kernel/hostname", keep_open=True) or os.uname().nodename
        ).strip()
        uptime = self.host.read("proc/uptime", keep_open=True)
        return {
            "name": self._name or hostname,
            "hostname": hostname,
            "kernel": self._kernel,
            "uptime_s": float(uptime.split()[0]) if uptime else None,
            "probe_version": PROBE_VERSION,
            "python_version": self._python_version,
        }

    def _cpu(self, elapsed: float) -> JsonDict:
        unavailable: Dict[str, str] = {}
        cpu: JsonDict = {"count": os.cpu_count() or 0, "unavailable": unavailable}
        loadavg = self.host.read("proc/loadavg", keep_open=True)
        if loadavg:
            cpu["load1"], cpu["load5"], cpu["load15"] = parse_loadavg(loadavg)
        else:
            unavailable["load1"] = unavailable["load5"] = unavailable["load15"] = (
                "/proc/loadavg unreadable"
            )
        stat_text = self.host.read("proc/stat", keep_open=True)
        if stat_text is None:
            unavailable["total_percent"] = unavailable["per_core_percent"] = "/proc/stat unreadable"
            return cpu
        stat = parse_proc_stat(stat_text)
        cores = sorted((n for n in stat if n != "cpu"), key=lambda n: int(n[3:]))
        cpu["count"] = len(cores) or cpu["count"]
        previous, self._previous_cpu = self._previous_cpu, stat

        def busy_percent(name: str) -> Optional[float]:
            if name not in previous:
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

    def _filesystems(self) -> List[JsonDict]:
        text = self.host.read("proc/self/mounts", keep_open=True)
        if text is None:
            return []
        result = []
        for device, mount, fstype in parse_mounts(text):
            entry: JsonDict = {
                "mount": mount,
                "device": device,
                "fstype": fstype,
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
            entry: JsonDict = {"name": name, "unavailable": {}}
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

    def _nics(self, elapsed: float) -> List[JsonDict]:
        text = self.host.read("proc/net/dev", keep_open=True)
        if text is None:
            return []
        counters = parse_net_dev(text)
        previous, self._previous_nics = self._previous_nics, counters
        result = []
        for name in sorted(counters):
            if name == "lo":
                continue
            values = counters[name]
            unavailable: Dict[str, str] = {}
            entry: JsonDict = {
                "name": name,
                "virtual": self._virtual(name),
                "rx_errors": values["rx_errors"],
                "tx_errors": values["tx_errors"],
                "rx_drops": values["rx_drops"],
                "tx_drops": values["tx_drops"],
                "unavailable": unavailable,
            }
            state = self.host.read("sys/class/net/%s/operstate" % name, keep_open=True)
            entry["state"] = state.strip() if state else None
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
                if not port.isdigit():
                    continue
                base = "%s/%s/" % (ports_dir, port)
                unavailable: Dict[str, str] = {}
                entry: JsonDict = {"device": device, "port": int(port), "unavailable": unavailable}
                for field, filename in (("state", "state"), ("phys_state", "phys_state")):
                    text = self.host.read(base + filename, keep_open=True)
                    entry[field] = parse_ib_state(text) if text else None
                rate_text = self.host.read(base + "rate", keep_open=True)
                entry["rate"] = rate_text.strip() if rate_text else None
                entry["rate_gbps"] = parse_ib_rate(rate_text) if rate_text else None
                link_layer = self.host.read(base + "link_layer")
                entry["link_layer"] = link_layer.strip() if link_layer else None
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
        out.write(json.dumps(sampler.sample(), separators=(",", ":")) + "\n")
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
                       [--version]

Print one JSON document per interval on stdout.

  --interval S   seconds between samples (default 1)
  --count N      stop after N samples (default: run until the reader goes away)
  --name NAME    name to report (default: the hostname)
  --root DIR     read /proc and /sys under DIR (default /)
  --align        sample on wall-clock multiples of the interval
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
    }
    converters: Dict[str, Callable[[str], Any]] = {
        "--interval": float,
        "--count": int,
        "--name": str,
        "--root": str,
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
                options[flag[2:]] = converters[flag](value)
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
            Sampler(name=options["name"], root=options["root"]),
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
