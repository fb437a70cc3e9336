"""Schedulers' clusters as their readers see them: Slurm (sinfo/squeue/scontrol) and
Kubernetes (nodes and pods of one kubeconfig context)."""

from __future__ import annotations

from typing import Literal

from aiconsole.model.base import Frozen


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


class KubeToleration(Frozen, frozen=True, kw_only=True):
    """One entry of a pod's ``spec.tolerations``: which node taints the pod accepts."""

    key: str | None = None
    """None (with ``Exists``): every taint."""
    operator: str = "Equal"
    """``Equal`` or ``Exists``."""
    value: str | None = None
    effect: str | None = None
    """``NoSchedule``, ``PreferNoSchedule``, ``NoExecute``; None: every effect."""


class KubeNodeRequirement(Frozen, frozen=True, kw_only=True):
    """One ``matchExpressions`` entry of a required node affinity term."""

    key: str
    operator: str
    """``In``, ``NotIn``, ``Exists``, ``DoesNotExist``, ``Gt``, ``Lt``."""
    values: tuple[str, ...] = ()


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
    tolerations: tuple[KubeToleration, ...] = ()
    node_selector: dict[str, str] = {}
    """``spec.nodeSelector``: labels a node must carry to take this pod."""
    node_affinity: tuple[tuple[KubeNodeRequirement, ...], ...] = ()
    """``requiredDuringSchedulingIgnoredDuringExecution`` node selector terms: a node must
    meet every requirement of at least one term (empty: no constraint)."""


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
