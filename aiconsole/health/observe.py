"""What a rule says about one sample, before hysteresis turns it into a finding."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiconsole.health.cgroups import process_workloads
from aiconsole.health.context import Join
from aiconsole.health.thresholds import Thresholds
from aiconsole.model import FleetSnapshot, Gpu, HostState, KubePod, Severity, Subject, Workload


@dataclass(frozen=True)
class Observation:
    """A rule seeing a problem in the current snapshot."""

    rule: str
    severity: Severity
    subject: Subject
    summary: str
    evidence: dict[str, str] = field(default_factory=dict)
    workloads: tuple[Workload, ...] = ()
    action: str | None = None
    event: bool = False
    """An event (an XID) is a finding at once; a condition needs several bad samples."""
    min_duration_s: float = 0.0
    """A condition that counts only once it has lasted this long (an idle GPU)."""
    since: float | None = None
    """When an event happened (an XID's time): its first appearance, whenever the console
    first saw it."""

    @property
    def key(self) -> str:
        return f"{self.rule}@{self.subject.key}"


@dataclass(frozen=True)
class Context:
    """Everything a rule may look at: the snapshot, the join, the thresholds, and the
    counters of the previous evaluation (for "rising" rules)."""

    snapshot: FleetSnapshot
    join: Join
    thresholds: Thresholds
    now: float
    previous: dict[str, int]
    """Counter key -> value at the previous evaluation."""
    pods: dict[str, tuple[str, KubePod]] = field(default_factory=dict)
    """Pod UID -> (context, pod), to name the pods that processes' cgroups point at."""

    def gpu_workloads(self, host: str, gpu: Gpu) -> tuple[Workload, ...]:
        """Who holds the GPU: the scheduler's word (Slurm's GPU indices) if it has one, else
        what the GPU's processes' cgroups say."""
        return self.join.workloads(host, gpu.index) or process_workloads(gpu, self.pods)

    def rising(self, key: str, value: int | None, counters: dict[str, int]) -> int | None:
        """How much a cumulative counter grew since the last evaluation (None: unknown).

        Records the value in ``counters`` (the next evaluation's ``previous``). A counter
        that went down was reset (driver reload, port reset): no growth, not negative."""
        if value is None:
            return None
        counters[key] = value
        before = self.previous.get(key)
        if before is None or value < before:
            return None
        return value - before


def host_subject(state: HostState) -> Subject:
    return Subject(kind="host", host=state.name)
