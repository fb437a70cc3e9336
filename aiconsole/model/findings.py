"""Health findings: what is wrong, about what, whom it hits (``aiconsole/health/``)."""

from __future__ import annotations

from typing import Literal

from aiconsole.model.base import Frozen

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
