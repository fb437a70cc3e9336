"""The snapshot vocabulary every layer speaks: collectors produce it, screens and JSON read it.

Every type is a frozen ``msgspec.Struct``: a snapshot, once built, is never changed, so the TUI,
``snapshot --json`` and any later exporter can read it from any task without locks.

A metric that cannot be read is ``None``, never a fake ``0``; the owning struct's ``unavailable``
map says why (``{"fan_speed_percent": "Not Supported"}``). Field names carry their unit.

The probe (``aiconsole/probe/``) emits plain JSON with these same field names; the console
decodes it *into* these types, which is also where untrusted input from hosts is validated.
Bump :data:`SCHEMA_VERSION` on any change that breaks a consumer of ``snapshot --json``
(removing or retyping a field); adding a field does not.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

SCHEMA_VERSION = 1

# -- Bounds: the most of each thing one host's sample may hold ------------------------------
# A host's output is untrusted; these bounds are checked as a sample is decoded (a sample
# past one is refused whole, and the host shows ``probe_error`` with the reason), so what one
# host can make the console hold is bounded whatever it sends. Each is far above any real host.
MAX_GPUS = 64
MAX_GPU_PROCESSES = 1024
"""Per GPU."""
MAX_CPUS = 8192
MAX_FILESYSTEMS = 4096
MAX_DISKS = 4096
MAX_NICS = 4096
MAX_IB_PORTS = 256
MAX_XID_EVENTS = 256
MAX_NAMES = 64
"""Short lists of names, such as a GPU's clock event reasons."""
MAX_REASONS = 256
"""Entries of one ``unavailable`` map."""

Reasons = Annotated[dict[str, str], msgspec.Meta(max_length=MAX_REASONS)]
"""Field name -> why that field is ``None`` in this sample."""
Names = Annotated[tuple[str, ...], msgspec.Meta(max_length=MAX_NAMES)]

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


class Frozen(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """Base for all snapshot types (immutable; unknown fields from newer probes are ignored)."""


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
    """Of the GPU's busiest engine, since the previous sample (AMD and other DRM drivers, from
    ``/proc/PID/fdinfo``; None where the driver does not say per process)."""
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


class XidEvent(Frozen, frozen=True, kw_only=True):
    """An XID: the driver reporting a GPU fault (the GPU's kernel-log line ``NVRM: Xid``)."""

    xid: int
    name: str
    """What the XID means, e.g. ``GPU has fallen off the bus`` for 79."""
    at: float | None = None
    """Unix time on the host's clock; None when the log line carried no time."""
    source: Literal["nvml", "kernel_log"]
    """``nvml``: seen live through NVML's event set; ``kernel_log``: read from the kernel log."""
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


class SlurmNode(Frozen, frozen=True, kw_only=True):
    name: str
    state: str
    """Base state as sinfo names it: ``idle``, ``mixed``, ``allocated``, ``down``, ..."""
    flags: tuple[str, ...] = ()
    """State flags in capitals: ``DRAIN``, ``NOT_RESPONDING``, ``FAIL``, ``MAINT``, ..."""
    summary: str
    """What an operator calls it: ``draining``/``drained`` for a drain, else the state,
    with ``*`` when the node does not respond (as sinfo marks it)."""
    reason: str | None = None
    reason_user: str | None = None
    reason_time: str | None = None
    """When the reason was set, as Slurm prints it (controller's local time)."""
    cpus_allocated: int | None = None
    cpus_total: int | None = None
    memory_mb: int | None = None
    gpus_total: int | None = None
    gpus_used: int | None = None
    partitions: tuple[str, ...] = ()


class SlurmJob(Frozen, frozen=True, kw_only=True):
    job_id: str
    array_job_id: str | None = None
    array_task_id: str | None = None
    name: str | None = None
    user: str | None = None
    state: str
    """``RUNNING``, ``PENDING``, ``COMPLETING``, ..."""
    reason: str | None = None
    partition: str | None = None
    nodes: tuple[str, ...] = ()
    gpus_per_node: int | None = None
    gpu_indices: dict[str, tuple[int, ...]] = {}
    """Node name -> the GPU indices this job holds there (from ``scontrol show job -d``)."""
    start_time: str | None = None
    time_used_s: int | None = None
    time_limit_s: int | None = None
    """None: no limit (``UNLIMITED``) or unknown."""
    restarts: int | None = None
    """How many times the job was requeued."""
    priority: int | None = None
    """Slurm's priority (higher runs first); 0 is held."""
    requeueable: bool | None = None
    """``Requeue=1``: Slurm may requeue it (a rebalance touches no other job)."""
    nodes_requested: int | None = None
    """Nodes a pending job asks for (``NumNodes``)."""


ClusterStatus = Literal["ok", "connecting", "stale", "error"]


class SlurmCluster(Frozen, frozen=True, kw_only=True):
    name: str
    status: ClusterStatus
    reason: str | None = None
    """One line saying what went wrong and where, when ``status`` is not ``ok``."""
    collected_at: float | None = None
    """Console clock, when the nodes and jobs below were read."""
    nodes: tuple[SlurmNode, ...] = ()
    jobs: tuple[SlurmJob, ...] = ()


Severity = Literal["critical", "warning", "info"]

SubjectKind = Literal["host", "gpu", "ib_port", "nic", "mount", "slurm_node", "k8s_node", "cluster"]


class Subject(Frozen, frozen=True, kw_only=True):
    """What a finding is about: a host, one of its parts, or a scheduler's node."""

    kind: SubjectKind
    host: str | None = None
    """Inventory name of the host, when the subject is (on) a host."""
    cluster: str | None = None
    """Scheduler cluster name, for ``slurm_node`` and ``cluster`` subjects."""
    name: str | None = None
    """The part: a GPU index as text, ``mlx5_0/1``, a NIC, a mount point, a node name."""

    @property
    def key(self) -> str:
        """Stable identity, e.g. ``gpu07/gpu/3`` or ``slurm:prod/node/gpu07``."""
        where = self.host if self.host is not None else f"{self.cluster}"
        return f"{where}/{self.kind}/{self.name or ''}".rstrip("/")


WorkloadKind = Literal["slurm_job", "pod", "container"]


class Workload(Frozen, frozen=True, kw_only=True):
    """The job or pod a finding hits, as the scheduler names it."""

    kind: WorkloadKind
    id: str
    """Slurm job id (``81234``, ``3_2`` for an array task), pod UID, container id."""
    cluster: str | None = None
    name: str | None = None
    user: str | None = None
    namespace: str | None = None
    owner: str | None = None
    """The pod's controller (``Job/train-7``)."""


class Finding(Frozen, frozen=True, kw_only=True):
    """A judgement over the fleet: what is wrong, the evidence, whom it hits, what to do."""

    rule: str
    """Stable rule id, e.g. ``gpu.xid_critical``; silences and alerts key on it."""
    severity: Severity
    subject: Subject
    summary: str
    """One line, e.g. ``XID 79 (GPU has fallen off the bus) on GPU 3``."""
    evidence: dict[str, str] = {}
    """The values that fired the rule, as text."""
    workloads: tuple[Workload, ...] = ()
    action: str | None = None
    """Suggested action: ``drain``, ``diagnose``, ``investigate``, ``clean``."""
    first_seen: float
    """Console clock: the first sample that showed the problem (an event: when it happened,
    on the host's clock)."""
    last_seen: float
    """Console clock: the latest sample that showed it."""
    incident: str
    """Incident id: every action taken about this finding is audited under it, so
    ``aiconsole audit --incident ID`` tells the story. Derived from the finding's subject,
    rule and first appearance, so the CLI and the live console name the same incident."""
    acknowledged: str | None = None
    """``user: note`` once an operator acknowledged it (it then raises no alert)."""
    silenced_until: float | None = None
    """Set while a silence covers it (no alert, not counted in ``health``'s exit code)."""


class KubeNode(Frozen, frozen=True, kw_only=True):
    """A Kubernetes node as its API server describes it (names and text already cleaned)."""

    name: str
    summary: str
    """What ``kubectl get nodes`` calls it: ``Ready``, ``NotReady``, ``Unknown``, with
    ``,SchedulingDisabled`` when cordoned."""
    ready: bool | None = None
    """The Ready condition; None when the node reports none."""
    conditions: dict[str, str] = {}
    """Condition type -> status (``True``/``False``/``Unknown``) for every condition reported."""
    problems: tuple[str, ...] = ()
    """Conditions in their bad state (pressure, network unavailable), with their messages."""
    unschedulable: bool = False
    taints: tuple[str, ...] = ()
    """``key=value:Effect`` as kubectl prints them."""
    labels: dict[str, str] = {}
    addresses: tuple[str, ...] = ()
    """InternalIP, ExternalIP and Hostname addresses, for matching SSH hosts."""
    gpu_product: str | None = None
    """``nvidia.com/gpu.product`` (or the AMD device label) when the GPU operator set one."""
    gpu_capacity: dict[str, int] = {}
    """GPU resource (``nvidia.com/gpu``, ``nvidia.com/mig-1g.10gb``, ``amd.com/gpu``) -> count."""
    gpu_allocatable: dict[str, int] = {}
    gpu_requested: dict[str, int] = {}
    """GPU resource -> what pods bound here and not finished request."""
    reason: str | None = None
    """Why it was cordoned, when aiconsole cordoned or drained it with ``--reason``."""

    @property
    def gpus_total(self) -> int:
        return sum(self.gpu_allocatable.values())

    @property
    def gpus_used(self) -> int:
        return sum(self.gpu_requested.values())


class KubePod(Frozen, frozen=True, kw_only=True):
    namespace: str
    name: str
    uid: str
    node: str | None = None
    """``spec.nodeName``; None while unscheduled."""
    phase: str
    """``Pending``, ``Running``, ``Succeeded``, ``Failed``, ``Unknown``."""
    owner_kind: str | None = None
    """The controlling owner (``Job``, ``ReplicaSet``, ``StatefulSet``, ``DaemonSet``, ...);
    None for a bare pod."""
    owner_name: str | None = None
    owner_uid: str | None = None
    gpus: dict[str, int] = {}
    """GPU resource -> count this pod requests."""
    restarts: int = 0
    """Container restarts, summed over containers."""
    created_at: float | None = None
    """Unix time of ``metadata.creationTimestamp``; a pod's age is ``generated_at`` minus this."""
    pending_reason: str | None = None
    """Why a pod is not running (unschedulable, image pull back-off), with the message."""
    labels: dict[str, str] = {}
    mirror: bool = False
    """A static pod's mirror (annotation ``kubernetes.io/config.mirror``)."""
    empty_dir_volumes: tuple[str, ...] = ()
    """Volumes whose data lives on the node and dies with the pod (``emptyDir``)."""
    deleting: bool = False
    """``metadata.deletionTimestamp`` is set: already on its way out."""


class KubeCluster(Frozen, frozen=True, kw_only=True):
    """One kubeconfig context: its nodes and pods, as last seen."""

    name: str
    """The kubeconfig context."""
    status: ClusterStatus
    reason: str | None = None
    """One line saying what went wrong and where, when ``status`` is not ``ok``."""
    server: str | None = None
    collected_at: float | None = None
    """Console clock, when the nodes and pods below were last brought up to date."""
    age_s: float | None = None
    """Seconds since ``collected_at`` when this snapshot was taken."""
    nodes: tuple[KubeNode, ...] = ()
    pods: tuple[KubePod, ...] = ()


class FleetSnapshot(Frozen, frozen=True, kw_only=True):
    schema_version: int = SCHEMA_VERSION
    generated_at: float
    """Unix time on the console's clock."""
    hosts: tuple[HostState, ...] = ()
    clusters: tuple[SlurmCluster, ...] = ()
    findings: tuple[Finding, ...] = ()
    """Health findings over this snapshot, worst first (``aiconsole health``)."""

    kubernetes: tuple[KubeCluster, ...] = ()
    """Kubernetes clusters, one per kubeconfig context watched."""


class HealthReport(Frozen, frozen=True, kw_only=True):
    """``aiconsole health --json``: the judgement of one snapshot."""

    schema_version: int = SCHEMA_VERSION
    generated_at: float
    status: Literal["ok", "warning", "critical", "unknown"]
    """The worst severity found; ``unknown`` when nothing could be judged."""
    exit_code: int
    """As the process exits: 0 ok, 1 warning, 2 critical, 3 unknown (monitoring plugins)."""
    findings: tuple[Finding, ...] = ()


def json_schema() -> dict[str, object]:
    """The JSON Schema that ``snapshot --json`` output conforms to."""
    schema = msgspec.json.schema(FleetSnapshot)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"aiconsole fleet snapshot, schema_version {SCHEMA_VERSION}"
    return schema


def health_schema() -> dict[str, object]:
    """The JSON Schema that ``health --json`` output conforms to."""
    schema = msgspec.json.schema(HealthReport)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"aiconsole health report, schema_version {SCHEMA_VERSION}"
    return schema
