"""The vocabulary of a rebalance: what moves, from where, why, at what cost."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Move:
    workload: str
    """Slurm job id (``3_2`` for an array task) or ``namespace/pod``."""
    kind: str
    """``requeue``, ``requeue-hold``, ``evict`` or ``notify``."""
    source: str
    """The node it leaves."""
    target: str | None
    """Where it is expected to run next; None: wherever the scheduler puts it."""
    why: str
    gpus: int
    owner: str | None = None
    cost_gpu_hours: float = 0.0
    """Progress lost: GPUs x hours run since the job last started."""
    exclude: tuple[str, ...] = ()
    """Nodes the job must not return to (``ExcNodeList``)."""


@dataclass(frozen=True)
class NodeView:
    """One node before and after the plan."""

    name: str
    gpus_total: int
    gpus_allocated: int
    gpus_allocated_after: int
    util_percent: float | None = None
    temperature_c: float | None = None


@dataclass(frozen=True)
class Result:
    policy: str
    moves: tuple[Move, ...] = ()
    refusals: tuple[str, ...] = ()
    """What the policy would have liked to move and why it did not."""
    nodes: tuple[NodeView, ...] = ()
    merit: dict[str, float] = field(default_factory=dict)
    """Predicted figures: GPUs freed, pending GPUs that can start, hot nodes relieved, ..."""
    starts: str | None = None
    """The pending job the plan lets start (defrag)."""

    @property
    def cost_gpu_hours(self) -> float:
        return sum(move.cost_gpu_hours for move in self.moves)
