"""Rebalance on Kubernetes: relieve hot or sick nodes, and reclaim GPUs idle pods hold.

Both move work the one way Kubernetes allows without owning the scheduler: evict a pod whose
controller (Job, ReplicaSet, StatefulSet) starts a new one, and let the scheduler place it.
A hot node is also cordoned, else the scheduler would likely put the new pod straight back
where GPUs just came free. A move is planned only when a cool node would take the pod
(taints and tolerations, nodeSelector, required node affinity, free GPUs), never for a bare
or DaemonSet pod, and never across a PodDisruptionBudget that allows no disruption now.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiconsole.kubernetes.drain import Budget
from aiconsole.model import FleetSnapshot, KubeCluster, KubePod
from aiconsole.rebalance.hot import HotLimits, NodeHeat, _why_hot, is_cool
from aiconsole.rebalance.kube_state import (
    Budgets,
    Room,
    holds_gpus,
    kube_heat,
    owner_of,
    pod_key,
    why_not_movable,
)
from aiconsole.rebalance.moves import Move, NodeView, Result

IDLE_ACTIONS = ("notify", "evict")
MAX_REASONS = 3
"""Per refused pod, how many nodes' reasons are named (the first are the telling ones)."""


@dataclass(frozen=True)
class KubeLimits:
    heat: HotLimits = field(default_factory=HotLimits)
    """What counts as hot and as cool; moves per plan and per node."""
    max_per_namespace: int = 4
    """Evictions of one namespace's pods in one plan (its owner's share of the disruption)."""


def _gpus(pod: KubePod) -> int:
    return sum(pod.gpus.values())


def _cost(pod: KubePod, now: float) -> float:
    """Progress an eviction may lose: GPUs x hours since the pod was created."""
    if pod.created_at is None:
        return 0.0
    return _gpus(pod) * max(0.0, now - pod.created_at) / 3600.0


def _cool(heat: dict[str, NodeHeat], hot: dict[str, str], limits: HotLimits) -> list[str]:
    return sorted(name for name, h in heat.items() if name not in hot and is_cool(h, limits))


def _views(
    cluster: KubeCluster, before: Room, after: Room, heat: dict[str, NodeHeat], names: set[str]
) -> tuple[NodeView, ...]:
    known = {node.name: node for node in cluster.nodes}
    return tuple(
        NodeView(
            name,
            known[name].gpus_total,
            before.used(name),
            after.used(name),
            heat[name].util if name in heat else None,
            heat[name].hottest_c if name in heat else None,
        )
        for name in sorted(names)
        if name in known
    )


def plan_kube_hot(
    snapshot: FleetSnapshot,
    cluster: KubeCluster,
    budgets: list[Budget],
    limits: KubeLimits | None = None,
    namespace: str | None = None,
) -> Result:
    """Evictions that move GPU pods off hot or sick nodes onto cool nodes that would take them
    (``namespace``: only that namespace's pods move; every pod still counts for room)."""
    limits = limits or KubeLimits()
    heat = kube_heat(snapshot, cluster)
    utils = [h.util for h in heat.values() if h.util is not None]
    mean = sum(utils) / len(utils) if utils else None
    hot = {name: why for name, h in heat.items() if (why := _why_hot(h, mean, limits.heat))}
    cool = _cool(heat, hot, limits.heat)
    before, room, spent = Room.of(cluster), Room.of(cluster), Budgets(budgets)
    now = snapshot.generated_at
    moves: list[Move] = []
    refusals: list[str] = []
    per_namespace: dict[str, int] = {}
    for name in sorted(hot):
        pods = sorted(
            (
                p
                for p in cluster.pods
                if p.node == name and holds_gpus(p) and namespace in (None, p.namespace)
            ),
            key=lambda p: (_cost(p, now), pod_key(p)),
        )
        moved_here = 0
        for pod in pods:
            where = f"{pod_key(pod)} on {name}"
            why = why_not_movable(pod) or spent.refusal(pod)
            if why is not None:
                refusals.append(f"{where}: {why}")
                continue
            if moved_here >= limits.heat.max_per_node or len(moves) >= limits.heat.max_moves:
                refusals.append(f"{where}: over the cap of moves (per node or per plan)")
                continue
            if per_namespace.get(pod.namespace, 0) >= limits.max_per_namespace:
                refusals.append(f"{where}: over the cap of moves in namespace {pod.namespace}")
                continue
            target, reasons = room.best_fit(pod, [n for n in cool if n != name])
            if target is None:
                shown = "; ".join(reasons[:MAX_REASONS]) or "there is no cool node"
                refusals.append(f"{where}: no cool node would take it ({shown})")
                continue
            room.move(pod, name, target)
            spent.spend(pod)
            moved_here += 1
            per_namespace[pod.namespace] = per_namespace.get(pod.namespace, 0) + 1
            moves.append(
                Move(
                    pod_key(pod),
                    "evict",
                    name,
                    target,
                    f"{name}: {hot[name]}",
                    _gpus(pod),
                    owner_of(pod),
                    _cost(pod, now),
                    exclude=(name,),
                )
            )
    touched = {m.source for m in moves} | {m.target for m in moves if m.target}
    return Result(
        policy="hot",
        moves=tuple(moves),
        refusals=tuple(refusals),
        nodes=_views(cluster, before, room, heat, touched | set(hot)),
        merit={
            "hot_nodes": float(len(hot)),
            "hot_nodes_relieved": float(len({m.source for m in moves})),
            "gpus_moved": float(sum(m.gpus for m in moves)),
            "gpu_hours_lost": sum(m.cost_gpu_hours for m in moves),
        },
    )


def idle_pods(snapshot: FleetSnapshot, cluster: KubeCluster) -> dict[str, float]:
    """Pod UID -> since when every GPU it holds has been idle (the ``gpu.idle_allocated``
    findings, which fire after the health thresholds' idle time at their utilisation)."""
    since: dict[str, dict[tuple[str, str], float]] = {}
    for finding in snapshot.findings:
        if finding.rule != "gpu.idle_allocated" or finding.subject.host is None:
            continue
        gpu = (finding.subject.host, finding.subject.name or "")
        for workload in finding.workloads:
            if workload.kind == "pod" and workload.cluster == cluster.name:
                since.setdefault(workload.id, {})[gpu] = finding.first_seen
    found = {}
    for pod in cluster.pods:
        gpus = since.get(pod.uid)
        # Some of its GPUs working: not an idle pod.
        if gpus and holds_gpus(pod) and len(gpus) >= _gpus(pod):
            found[pod.uid] = max(gpus.values())
    return found


def plan_kube_idle(
    snapshot: FleetSnapshot,
    cluster: KubeCluster,
    budgets: list[Budget],
    now: float,
    action: str = "notify",
    min_idle_s: float = 0.0,
    max_moves: int = 8,
    namespace: str | None = None,
) -> Result:
    """Pods whose every GPU sits idle, with the GPU-hours wasted; evicted only when asked,
    and then only those a controller recreates and no PodDisruptionBudget protects now."""
    if action not in IDLE_ACTIONS:
        raise ValueError(f"idle reclaim acts by {', '.join(IDLE_ACTIONS)}, not {action!r}")
    idle = idle_pods(snapshot, cluster)
    spent = Budgets(budgets)
    before, after = Room.of(cluster), Room.of(cluster)
    moves: list[Move] = []
    refusals: list[str] = []
    wasted = 0.0
    chosen = (p for p in cluster.pods if p.uid in idle and namespace in (None, p.namespace))
    for pod in sorted(chosen, key=pod_key):
        seconds = max(0.0, now - idle[pod.uid])
        if seconds < min_idle_s:
            continue
        kind = action
        if kind == "evict":
            why = why_not_movable(pod) or spent.refusal(pod)
            if why is None and sum(m.kind == "evict" for m in moves) >= max_moves:
                why = f"over the cap of {max_moves} evictions"
            if why is not None:
                refusals.append(f"{pod_key(pod)}: {why}; notify its owner instead")
                kind = "notify"
        if kind == "evict":
            spent.spend(pod)
            after.move(pod, pod.node or "", None)
        wasted += _gpus(pod) * seconds / 3600.0
        moves.append(
            Move(
                pod_key(pod),
                kind,
                pod.node or "",
                None,
                f"{_gpus(pod)} GPU(s) idle for {seconds / 60:.0f} min",
                _gpus(pod),
                owner_of(pod),
            )
        )
    evicted = [m for m in moves if m.kind == "evict"]
    return Result(
        policy="idle",
        moves=tuple(moves),
        refusals=tuple(refusals),
        nodes=_views(cluster, before, after, {}, {m.source for m in evicted}),
        merit={
            "idle_pods": float(len(moves)),
            "gpus_idle": float(sum(m.gpus for m in moves)),
            "gpu_hours_wasted": wasted,
            "gpus_freed": float(sum(m.gpus for m in evicted)),
        },
    )
