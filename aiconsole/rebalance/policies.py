"""One entry to the three planners, by the name an operator chooses (``idle``, ``defrag``,
``hot``), for the CLI and the TUI alike."""

from __future__ import annotations

from dataclasses import dataclass

from aiconsole.model import FleetSnapshot, SlurmCluster
from aiconsole.rebalance.defrag import Limits, plan_defrag
from aiconsole.rebalance.hot import HotLimits, plan_hot
from aiconsole.rebalance.idle import plan_idle
from aiconsole.rebalance.moves import Result

POLICIES = ("idle", "defrag", "hot")


@dataclass(frozen=True)
class Choice:
    policy: str = "defrag"
    idle_action: str = "notify"
    """``notify`` (tell the owner) or ``requeue-hold``."""
    max_moves: int = 8
    max_per_node: int = 2
    max_per_user: int = 4


def plan_policy(
    choice: Choice, snapshot: FleetSnapshot, cluster: SlurmCluster, now: float
) -> Result:
    """The planner's result for ``cluster``; ``snapshot`` gives GPU use, heat and findings
    (idle and hot; defrag needs only the scheduler)."""
    if choice.policy == "defrag":
        return plan_defrag(cluster, Limits(choice.max_moves, choice.max_per_user))
    if choice.policy == "hot":
        limits = HotLimits(max_moves=choice.max_moves, max_per_node=choice.max_per_node)
        return plan_hot(snapshot, cluster, limits)
    if choice.policy == "idle":
        return plan_idle(snapshot, cluster, now, choice.idle_action, choice.max_moves)
    raise ValueError(f"unknown rebalance policy {choice.policy!r}: one of {', '.join(POLICIES)}")
