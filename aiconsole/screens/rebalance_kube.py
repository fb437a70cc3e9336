"""Kubernetes plans for the rebalance screen: one per watched context, next to Slurm's.

The live snapshot carries no PodDisruptionBudgets, so the plan shown is made without them;
carrying it out reads the cluster and its budgets again and plans once more. If that fresh
plan is not the one the operator confirmed (a budget now forbids a move, a pod went), nothing
is done, the modal shows the new plan, and the screen plans with the budgets read from then
on, so the plan it shows next is the one that can run: what runs is always what was shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from aiconsole.actions.plan import Outcome, Plan
from aiconsole.actions.policy import Policy
from aiconsole.model import FleetSnapshot
from aiconsole.rebalance.policies import Choice

if TYPE_CHECKING:
    from aiconsole.actions.kubernetes_session import KubeTarget
    from aiconsole.app import ConsoleApp
    from aiconsole.collectors.kubernetes import KubeCollector
    from aiconsole.kubernetes.drain import Budget
    from aiconsole.screens.rebalance import ScopePlan

KUBE_POLICIES = ("hot", "idle")
"""defrag requeues Slurm jobs: there is no Kubernetes counterpart."""

_BUDGETS_SEEN: WeakKeyDictionary[KubeCollector, list[Budget]] = WeakKeyDictionary()
"""Per watched context, the budgets last read when a confirmed plan turned out changed: the
live snapshot has none, and without them the screen would show the refused plan again."""


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
            budgets=_BUDGETS_SEEN.get(collector, ()),
            idle_action=_idle_action(choice),
        )
        execute = _execute_again(console, collector, choice, snapshot)
        plans.append(ScopePlan(cluster.name, plan, result, execute))
    return plans


def _what_runs(plan: Plan) -> tuple[object, ...]:
    """What carrying ``plan`` out does and expects, and to which pods (their uids).

    Not its warnings: those name pods that stay put, and with the budgets read, a pod that
    stayed for the cap of moves now stays for its budget: the same plan in other words."""
    return (plan.action, plan.scope, plan.targets, plan.impacts, plan.command, plan.then,
            plan.refusals, plan.before, plan.expect)  # fmt: skip


def _execute_again(
    console: ConsoleApp, collector: KubeCollector, choice: Choice, snapshot: FleetSnapshot
) -> Callable[[Plan, Callable[[str], None]], Awaitable[Outcome]]:
    context = collector.name

    async def execute(confirmed: Plan, progress: Callable[[str], None]) -> Outcome:
        from aiconsole.actions.kubernetes_session import KubeTarget
        from aiconsole.actions.rebalance_kube_run import prepare

        target = KubeTarget(context, collector.kubeconfig, collector.timeout)
        _result, fresh, run = await prepare(
            target,
            choice.policy,
            snapshot,
            snapshot.findings,
            console.policy,
            console.audit,
            idle_action=_idle_action(choice),
        )
        if _what_runs(fresh) != _what_runs(confirmed):
            _BUDGETS_SEEN[collector] = await _read_budgets(target)
            progress("the plan as it stands now:")
            for line in fresh.describe().splitlines():
                progress(line)
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


async def _read_budgets(target: KubeTarget) -> list[Budget]:
    from aiconsole.kubernetes.api import KubeApi
    from aiconsole.kubernetes.operations import read_budgets

    api = await KubeApi.connect(target.context, target.kubeconfig, target.timeout)
    try:
        return await read_budgets(api)
    finally:
        await api.close()
