"""One host's sample as the probe reports it, and what the console knows of the host."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from aiconsole.model.base import (
    MAX_CPUS,
    MAX_DISKS,
    MAX_FILESYSTEMS,
    MAX_GPU_PROCESSES,
    MAX_GPUS,
    MAX_IB_PORTS,
    MAX_NICS,
    MAX_XID_EVENTS,
    Frozen,
    Names,
    Reasons,
)
from aiconsole.model.interconnect import EccBlocks, NvLinkLinks, XgmiLinks, XgmiPorts

HostStatus = Literal[
    "ok",  # fresh sample
    "connecting",  # no sample yet
    "stale",  # last sample older than the collector expects
    "unreachable",  # network-level failure
    "auth_failed",
    "host_key_refused",
    "probe_error",  # the probe failed or sent something undecodable
]

GpuDriverStatus = Literal[
    "ok",
    "no_driver",  # no NVIDIA driver/library on this host: not an error
    "no_bindings",  # driver may exist but neither pynvml nor nvidia-smi is usable
    "error",  # NVML present but failing
]


class Identity(Frozen, frozen=True, kw_only=True):
    name: str
    """The inventory name the console knows the host by."""
    hostname: str
    """What the host calls itself."""
    kernel: str | None = None
    uptime_s: float | None = None
    probe_version: str
    python_version: str | None = None
    """Interpreter the probe ran under on the host."""


class Cpu(Frozen, frozen=True, kw_only=True):
    count: int
    total_percent: float | None = None
    per_core_percent: Annotated[tuple[float, ...], msgspec.Meta(max_length=MAX_CPUS)] | None = None
    load1: float | None = None
    load5: float | None = None
    load15: float | None = None
    unavailable: Reasons = {}


class Memory(Frozen, frozen=True, kw_only=True):
    total_bytes: int | None = None
    available_bytes: int | None = None
    used_bytes: int | None = None
    """``total - available``: memory that cannot be reclaimed without swapping."""
    swap_total_bytes: int | None = None
    swap_used_bytes: int | None = None
    unavailable: Reasons = {}


class Filesystem(Frozen, frozen=True, kw_only=True):
    mount: str
    device: str
    fstype: str
    size_bytes: int | None = None
    used_bytes: int | None = None
    free_bytes: int | None = None
    """Free to unprivileged users (``df``'s Avail)."""
    unavailable: Reasons = {}


class Disk(Frozen, frozen=True, kw_only=True):
    name: str
    read_bytes_per_s: float | None = None
    write_bytes_per_s: float | None = None
    read_iops: float | None = None
    write_iops: float | None = None
    unavailable: Reasons = {}


class Nic(Frozen, frozen=True, kw_only=True):
    name: str
    state: str | None = None
    """``operstate`` from sysfs: up, down, dormant, unknown..."""
    speed_mbps: int | None = None
    virtual: bool = False
    """True for software interfaces (bridges, veth, bonds) with no device behind them."""
    rx_bytes_per_s: float | None = None
    tx_bytes_per_s: float | None = None
    rx_errors: int | None = None
    """Cumulative counters since the interface came up."""
    tx_errors: int | None = None
    rx_drops: int | None = None
    tx_drops: int | None = None
    unavailable: Reasons = {}


class IbPort(Frozen, frozen=True, kw_only=True):
    device: str
    """HCA name, e.g. ``mlx5_0``."""
    port: int
    state: str | None = None
    """Logical state: ``ACTIVE``, ``INIT``, ``DOWN``..."""
    phys_state: str | None = None
    """Physical state: ``LinkUp``, ``Polling``, ``Disabled``..."""
    rate: str | None = None
    """As the kernel reports it, e.g. ``200 Gb/sec (4X HDR)``."""
    rate_gbps: float | None = None
    link_layer: str | None = None
    """``InfiniBand`` or ``Ethernet`` (RoCE)."""
    rx_bytes_per_s: float | None = None
    tx_bytes_per_s: float | None = None
    symbol_errors: int | None = None
    link_downed: int | None = None
    unavailable: Reasons = {}


class ProcessWorkload(Frozen, frozen=True, kw_only=True):
    """What a process belongs to, by its cgroup: a Slurm job (and step), a Kubernetes pod
    (and container), or a container of a local runtime."""

    kind: Literal["slurm_job", "pod", "container"]
    id: str
    """Job id, pod UID or container id."""
    step: str | None = None
    """Slurm step: ``0``, ``batch``, ``extern``, ..."""
    container_id: str | None = None
    runtime: str | None = None
    """``docker``, ``containerd``, ``cri-o``, ``podman``, ..."""


class GpuProcess(Frozen, frozen=True, kw_only=True):
    pid: int
    user: str | None = None
    command: str | None = None
    gpu_memory_bytes: int | None = None
    kind: Literal["compute", "graphics"] = "compute"
    cpu_percent: float | None = None
    """Of one core, since the previous sample (None on a process's first sample)."""
    rss_bytes: int | None = None
    gpu_util_percent: float | None = None
    """NVIDIA: the SM share over about the last second, from NVML's per-process samples (what
    ``nvidia-smi pmon`` shows). AMD and other DRM drivers: the GPU's busiest engine since the
    previous sample, from ``/proc/PID/fdinfo``. None where the driver does not say."""
    workload: ProcessWorkload | None = None
    """The Slurm job, pod or container the process runs in (from ``/proc/PID/cgroup``)."""


class Gpu(Frozen, frozen=True, kw_only=True):
    index: int
    name: str | None = None
    uuid: str | None = None
    bus_id: str | None = None
    lost: bool = False
    """NVML reports the GPU as fallen off the bus (``GpuIsLost``)."""
    util_gpu_percent: float | None = None
    util_memory_percent: float | None = None
    memory_total_bytes: int | None = None
    memory_used_bytes: int | None = None
    temperature_c: float | None = None
    power_draw_w: float | None = None
    power_limit_w: float | None = None
    sm_clock_mhz: int | None = None
    sm_clock_max_mhz: int | None = None
    memory_clock_mhz: int | None = None
    memory_clock_max_mhz: int | None = None
    fan_speed_percent: float | None = None
    performance_state: int | None = None
    """P-state: 0 is full performance, 15 the lowest."""
    clock_event_reasons: Names | None = None
    """Why clocks are held down now (NVML "clocks event" / "throttle" reasons), by name:
    ``gpu_idle``, ``applications_clocks_setting``, ``sw_power_cap``, ``hw_slowdown``,
    ``sync_boost``, ``sw_thermal_slowdown``, ``hw_thermal_slowdown``,
    ``hw_power_brake_slowdown``, ``display_clock_setting``, ... An empty tuple: none."""
    energy_j: float | None = None
    """Energy used since the driver loaded."""
    energy_session_j: float | None = None
    """Energy used since this probe started."""
    ecc_enabled: bool | None = None
    ecc_corrected_volatile: int | None = None
    ecc_uncorrected_volatile: int | None = None
    ecc_corrected_aggregate: int | None = None
    ecc_uncorrected_aggregate: int | None = None
    remapped_rows_correctable: int | None = None
    remapped_rows_uncorrectable: int | None = None
    remap_pending: bool | None = None
    """A row remap waits for a GPU reset."""
    remap_failure: bool | None = None
    """A remap failed: the GPU needs service."""
    retired_pages_single_bit: int | None = None
    """Pages retired for repeated single-bit ECC errors (pre-Ampere GPUs; newer ones remap)."""
    retired_pages_double_bit: int | None = None
    retired_pages_pending: bool | None = None
    pcie_link_gen: int | None = None
    pcie_link_gen_max: int | None = None
    pcie_link_width: int | None = None
    pcie_link_width_max: int | None = None
    nvlink_links_up: int | None = None
    nvlink_links_total: int | None = None
    nvlink_links: NvLinkLinks | None = None
    """Each NVLink link's state and data rates (None where the driver does not count them)."""
    mig_enabled: bool | None = None
    processes: Annotated[tuple[GpuProcess, ...], msgspec.Meta(max_length=MAX_GPU_PROCESSES)] = ()
    unavailable: Reasons = {}
    vendor: Literal["nvidia", "amd", "intel"] | None = None
    """None from probes older than the field: NVIDIA."""
    serial: str | None = None
    temperature_junction_c: float | None = None
    """Hotspot temperature (AMD); ``temperature_c`` is the edge sensor where there is one."""
    temperature_memory_c: float | None = None
    ras_errors: dict[str, tuple[int, int]] | None = None
    """AMD RAS error counts per block (``umc``, ``gfx``, ``xgmi_wafl``...):
    (uncorrectable, correctable). Their sums are the ``ecc_*_volatile`` fields."""
    ecc_blocks: EccBlocks | None = None
    """AMD: ECC counts per block from amd-smi (with deferred errors), else from sysfs RAS."""
    xgmi_error: Literal["none", "single", "multiple"] | None = None
    """AMD: XGMI errors since last read (amd-smi ``xgmi_err``, rocm-smi ``--showxgmierr``)."""
    xgmi_links: XgmiLinks = ()
    """AMD: the GPU's XGMI links to its peers (amd-smi)."""
    xgmi_ports: XgmiPorts = ()
    """AMD: the state of each XGMI port (amd-smi from ROCm 6.4)."""


class XidEvent(Frozen, frozen=True, kw_only=True):
    """An XID: the driver reporting a GPU fault (the GPU's kernel-log line ``NVRM: Xid``)."""

    xid: int
    name: str
    """What the XID means, e.g. ``GPU has fallen off the bus`` for 79."""
    at: float | None = None
    """Unix time on the host's clock; None when the log line carried no time."""
    source: Literal["nvml", "kernel_log", "dcgm-exporter"]
    """``nvml``: seen live through NVML's event set; ``kernel_log``: read from the kernel log;
    ``dcgm-exporter``: the GPU's last XID as Prometheus has it (no time: it says which XID,
    not when)."""
    gpu_index: int | None = None
    bus_id: str | None = None
    uuid: str | None = None
    detail: str | None = None
    """The rest of the kernel-log line (pid, process name, the driver's words)."""


class GpuTotals(Frozen, frozen=True, kw_only=True):
    """A host's GPUs summed up at the source, when per-GPU rows were not fetched.

    A Prometheus fleet of thousands of hosts is read as per-host aggregates computed on the
    server (one series per host, not per GPU); the GPUs themselves arrive when the host is
    opened. Each figure is None when no GPU reported it.
    """

    count: int
    util_mean_percent: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    temperature_max_c: float | None = None
    power_draw_w: float | None = None


class GpuSection(Frozen, frozen=True, kw_only=True):
    status: GpuDriverStatus
    reason: str | None = None
    source: Literal["nvml", "nvidia-smi", "dcgm-exporter", "none"] = "none"
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    """The CUDA version the driver supports, e.g. ``12.4``."""
    gpus: Annotated[tuple[Gpu, ...], msgspec.Meta(max_length=MAX_GPUS)] = ()
    totals: GpuTotals | None = None
    """Set instead of ``gpus`` when only per-host aggregates were read (large fleets)."""
    xid_events: Annotated[tuple[XidEvent, ...], msgspec.Meta(max_length=MAX_XID_EVENTS)] = ()
    """The newest XID events the probe knows of (history from the kernel log, then live)."""
    unavailable: Reasons = {}
    """``xid_history``: why the kernel log's XIDs are not known; ``xid_live``: why new XIDs
    are not watched; ``nvidia``, ``amd``, ``intel``: why a vendor's accelerators are not read
    on a host that has another vendor's."""
    sources: tuple[str, ...] = ()
    """Every source the GPUs were read from: ``nvml`` or ``nvidia-smi``, ``amdgpu`` (sysfs),
    ``hl-smi``. Empty from probes older than the field (then ``source`` says it)."""


class NvmeHealth(Frozen, frozen=True, kw_only=True):
    """The NVMe SMART / health log (log page 02h)."""

    critical_warning: int | None = None
    """The raw bit field; ``warnings`` names the bits that are set."""
    warnings: tuple[str, ...] | None = None
    temperature_c: float | None = None
    available_spare_percent: int | None = None
    available_spare_threshold_percent: int | None = None
    percentage_used: int | None = None
    """Wear: the vendor's estimate of life used; can exceed 100."""
    data_units_read: int | None = None
    """In units of 512,000 bytes, as the log counts them."""
    data_units_written: int | None = None
    power_cycles: int | None = None
    power_on_hours: int | None = None
    unsafe_shutdowns: int | None = None
    media_errors: int | None = None
    """Unrecovered data-integrity errors."""
    error_log_entries: int | None = None


class NvmeDrive(Frozen, frozen=True, kw_only=True):
    name: str
    """Controller: ``nvme0``."""
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    health: NvmeHealth | None = None
    unavailable: Reasons = {}
    """``health``: why the health log was not read (no nvme-cli and not root, ...)."""


class SharedFilesystem(Frozen, frozen=True, kw_only=True):
    """A network or parallel filesystem mount: does it answer, and how fast."""

    mount: str
    kind: str
    """``nfs``, ``lustre``, ``gpfs``, ``beegfs``, ``cephfs``, ``wekafs``, ..."""
    server: str | None = None
    """NFS server, Lustre fsname or the mount's device."""
    answering: bool
    hung: bool = False
    """statvfs did not return within the probe's deadline (or is still stuck from an earlier
    sample): the server is gone or unreachable."""
    statvfs_ms: float | None = None
    """How long statvfs took this sample (None when it did not return)."""
    rtt_ms: float | None = None
    """NFS: mean RPC round-trip per call over the last interval."""
    retrans_per_s: float | None = None
    read_bytes_per_s: float | None = None
    """Lustre client reads (llite stats)."""
    write_bytes_per_s: float | None = None
    unavailable: Reasons = {}


class HostSample(Frozen, frozen=True, kw_only=True):
    """One reading of one host, as the probe produced it (host clock)."""

    seq: int
    """Sample counter of the probe process; rates need ``seq >= 1``."""
    collected_at: float
    """Unix time on the host's own clock."""
    probe_cpu_s: float | None = None
    """CPU time the probe process has used so far (for measuring its own cost)."""
    identity: Identity
    cpu: Cpu
    memory: Memory
    filesystems: Annotated[tuple[Filesystem, ...], msgspec.Meta(max_length=MAX_FILESYSTEMS)] = ()
    disks: Annotated[tuple[Disk, ...], msgspec.Meta(max_length=MAX_DISKS)] = ()
    nics: Annotated[tuple[Nic, ...], msgspec.Meta(max_length=MAX_NICS)] = ()
    ib_ports: Annotated[tuple[IbPort, ...], msgspec.Meta(max_length=MAX_IB_PORTS)] = ()
    gpu: GpuSection
    truncated: dict[str, str] = {}
    """What the probe left out to keep one sample bounded: ``filesystems``, ``disks``,
    ``nics``, ``ib_ports``, ``gpus``, ``gpuN.processes`` -> how many of how many were kept."""
    nvme: tuple[NvmeDrive, ...] = ()
    shared_filesystems: tuple[SharedFilesystem, ...] = ()
    unavailable: Reasons = {}
    """``nvme``: why NVMe health is not read at all on this host."""


class HostState(Frozen, frozen=True, kw_only=True):
    """What the console knows of one host: its status and its latest sample, if any."""

    name: str
    status: HostStatus
    reason: str | None = None
    """One line saying what went wrong and where, when ``status`` is not ``ok``."""
    received_at: float | None = None
    """Unix time on the console's clock when the latest sample arrived."""
    age_s: float | None = None
    """Seconds since ``received_at`` when this snapshot was taken."""
    sample: HostSample | None = None
