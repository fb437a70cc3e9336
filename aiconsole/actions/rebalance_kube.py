"""A Kubernetes rebalance as a plan of the one action machinery.

A planner's :class:`~aiconsole.rebalance.moves.Result` becomes a :class:`Plan` whose targets
are the nodes to cordon (hot nodes it relieves, so the scheduler does not put the pods back)
and then the pods to evict, each as ``namespace/name``. It shows every touched node before
and after (GPUs requested, GPU use, temperature), every move and why, what the planner
would not move and why, and the predicted figure of merit. Pure: the cluster as read now in,
the plan out; :mod:`aiconsole.actions.rebalance_kube_run` carries it out.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from aiconsole.actions.kubernetes import blast_radius
from aiconsole.actions.plan import Impact, Plan
from aiconsole.actions.policy import Policy
from aiconsole.kubernetes.drain import Budget
from aiconsole.kubernetes.operations import describe_patch, pod_path
from aiconsole.model import Finding, FleetSnapshot, KubeCluster
from aiconsole.rebalance.kube import KubeLimits, plan_kube_hot, plan_kube_idle
from aiconsole.rebalance.moves import NodeView, Result

POLICIES = ("hot", "idle")
"""What Kubernetes can rebalance; ``defrag`` (requeue for a pending job) is Slurm's alone."""


class UnknownPolicy(ValueError):
    """A policy Kubernetes has no planner for."""


def action_name(policy_name: str) -> str:
    return f"rebalance-{policy_name}"


def _node_line(view: NodeView) -> tuple[str, str]:
    def heat(util: float | None, temp: float | None) -> str:
        parts = []
        if util is not None:
            parts.append(f"GPU use {util:.0f} %")
        if temp is not None:
            parts.append(f"{temp:.0f} C")
        return (", " + ", ".join(parts)) if parts else ""

    now = f"GPUs {view.gpus_allocated}/{view.gpus_total} requested"
    now += heat(view.util_percent, view.temperature_c)
    after = f"after: GPUs {view.gpus_allocated_after}/{view.gpus_total} requested"
    return now, after


def _merit_lines(result: Result) -> tuple[str, ...]:
    return tuple(
        f"{name.replace('_', ' ')}: {value:g}"
        if name != "gpu_hours_lost"
        else f"GPU-hours of progress at risk: {value:.2f}"
        for name, value in sorted(result.merit.items())
    )


def plan_from_result(
    result: Result,
    cluster: KubeCluster,
    policy: Policy,
    reason: str | None = None,
) -> Plan:
    """The plan that carries out ``result``'s evictions (notify moves are listed, not run)."""
    pods = {f"{pod.namespace}/{pod.name}": pod for pod in cluster.pods}
    evictions = [m for m in result.moves if m.kind == "evict"]
    cordon = sorted({node for m in evictions for node in m.exclude})
    why_cordon = reason or f"aiconsole rebalance {result.policy}"
    impacts = []
    for view in result.nodes:
        now, after = _node_line(view)
        hits = [after]
        if view.name in cordon:
            hits.append("cordoned: the evicted pods must not come back here")
        impacts.append(Impact(view.name, now, tuple(hits)))
    commands = [describe_patch(node, True, why_cordon) for node in cordon]
    before: dict[str, str] = {}
    refusals: list[str] = []
    for move in result.moves:
        where = f"to {move.target} (expected)" if move.target else "rescheduled"
        if move.kind == "notify":
            verb = f"notify {move.owner or 'its owner'}"
        else:
            verb = f"evict from {move.source}, {where}"
        hit = f"{verb}: {move.why}"
        if move.cost_gpu_hours:
            hit += f"; {move.cost_gpu_hours:.2f} GPU-hours since it started"
        impacts.append(Impact(move.workload, f"{move.owner}, {move.gpus} GPU(s)", (hit,)))
        if move.kind != "evict":
            continue
        pod = pods.get(move.workload)
        if pod is None:
            refusals.append(f"{move.workload}: no longer in context {cluster.name}")
            continue
        # What verification compares against: the pod's uid, its node, its controller's uid.
        before[move.workload] = f"{pod.uid} {move.source} {pod.owner_uid or '-'}"
        commands.append(f"POST {pod_path(pod.namespace, pod.name)}/eviction (policy/v1)")
    if result.merit:
        impacts.append(Impact("predicted", "figure of merit", _merit_lines(result)))
    refusals += blast_radius(cluster, cordon, policy)
    return Plan(
        action=action_name(result.policy),
        scope=cluster.name,
        targets=(*cordon, *(m.workload for m in evictions)),
        impacts=tuple(impacts),
        command=tuple(commands),
        reason=why_cordon if cordon else reason,
        warnings=tuple(f"not moved: {line}" for line in result.refusals),
        refusals=tuple(refusals),
        expect=(
            "every relieved node is cordoned and every evicted pod is gone from its node, "
            "with a new pod of its controller running on another node"
        ),
        before=before,
    )


def kube_rebalance_plan(
    cluster: KubeCluster,
    fleet: FleetSnapshot,
    findings: Sequence[Finding],
    policy_name: str,
    *,
    policy: Policy,
    budgets: Sequence[Budget] = (),
    now: float | None = None,
    idle_action: str = "notify",
    min_idle_s: float = 0.0,
    limits: KubeLimits | None = None,
    reason: str | None = None,
    namespace: str | None = None,
) -> tuple[Result, Plan]:
    """Plan ``policy_name`` (``hot`` or ``idle``) on ``cluster``.

    ``fleet`` gives the hosts' GPU telemetry, ``findings`` the health findings (warnings on
    nodes, idle GPUs); ``budgets`` the cluster's PodDisruptionBudgets as read now (the live
    snapshot carries none: read them before acting, see ``rebalance_kube_run.prepare``)."""
    if policy_name not in POLICIES:
        raise UnknownPolicy(
            f"rebalance --policy {policy_name}: Kubernetes rebalances by "
            f"{' or '.join(POLICIES)}; defrag requeues Slurm jobs only"
        )
    snapshot = msgspec.structs.replace(fleet, findings=tuple(findings))
    if policy_name == "hot":
        result = plan_kube_hot(snapshot, cluster, list(budgets), limits, namespace)
    else:
        heat = (limits or KubeLimits()).heat
        result = plan_kube_idle(
            snapshot,
            cluster,
            list(budgets),
            fleet.generated_at if now is None else now,
            idle_action,
            min_idle_s,
            heat.max_moves,
            namespace,
        )
    return result, plan_from_result(result, cluster, policy, reason)
