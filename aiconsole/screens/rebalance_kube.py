"""Kubernetes plans for the rebalance screen: one per watched context, next to Slurm's.

The live snapshot carries no PodDisruptionBudgets, so the plan shown is made without them;
carrying it out reads the cluster and its budgets again and plans once more. If that fresh
plan is not the one the operator confirmed (a budget now forbids a move, a pod went), nothing
is done and the operator is told to review the new plan: what runs is always what was shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiconsole.actions.plan import Outcome, Plan
from aiconsole.actions.policy import Policy
from aiconsole.model import FleetSnapshot
from aiconsole.rebalance.policies import Choice

if TYPE_CHECKING:
    from aiconsole.app import ConsoleApp
    from aiconsole.screens.rebalance import ScopePlan

KUBE_POLICIES = ("hot", "idle")
"""defrag requeues Slurm jobs: there is no Kubernetes counterpart."""


def _idle_action(choice: Choice) -> str:
    # The Slurm choice "requeue-hold" means "act on idle work": on Kubernetes that is an
    # eviction of a pod its controller recreates.
    return "notify" if choice.idle_action == "notify" else "evict"


def kube_plans(
    console: ConsoleApp, snapshot: FleetSnapshot, choice: Choice, policy: Policy
) -> list[ScopePlan]:
    """The plan for each Kubernetes context that could be read, as of ``snapshot``."""
    if choice.policy not in KUBE_POLICIES or not snapshot.kubernetes:
        return []
    from aiconsole.actions.rebalance_kube import kube_rebalance_plan
    from aiconsole.screens.rebalance import ScopePlan

    plans = []
    for cluster in snapshot.kubernetes:
        if cluster.status not in ("ok", "stale"):
            continue
        collector = next((c for c in console.fleet.kube if c.name == cluster.name), None)
        if collector is None:
            continue
        result, plan = kube_rebalance_plan(
            cluster,
            snapshot,
            snapshot.findings,
            choice.policy,
            policy=policy,
            idle_action=_idle_action(choice),
        )
        execute = _execute_again(console, collector.name, collector.kubeconfig,
                                 collector.timeout, choice, snapshot)  # fmt: skip
        plans.append(ScopePlan(cluster.name, plan, result, execute))
    return plans


def _execute_again(
    console: ConsoleApp,
    context: str,
    kubeconfig: str,
    timeout: float,
    choice: Choice,
    snapshot: FleetSnapshot,
) -> Callable[[Plan, Callable[[str], None]], Awaitable[Outcome]]:
    async def execute(confirmed: Plan, progress: Callable[[str], None]) -> Outcome:
        from aiconsole.actions.kubernetes_session import KubeTarget
        from aiconsole.actions.rebalance_kube_run import prepare

        target = KubeTarget(context, kubeconfig, timeout)
        _result, fresh, run = await prepare(
            target,
            choice.policy,
            snapshot,
            snapshot.findings,
            console.policy,
            console.audit,
            idle_action=_idle_action(choice),
        )
        if fresh.describe() != confirmed.describe():
            return Outcome(
                confirmed,
                (),
                error=f"{context}: the cluster changed since the plan was shown (budgets "
                "read now); nothing was done: review the new plan and confirm again",
            )
        outcome = await run(fresh, progress)
        console.publish_snapshot()
        return outcome

    return execute
