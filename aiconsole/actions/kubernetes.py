"""Kubernetes actions as plans: cordon, uncordon, drain, restart.

The same machinery as Slurm's (:mod:`aiconsole.actions.execute`): a plan says what will be
hit before anything runs, :func:`carry_out` audits the intent, runs, verifies by re-reading
the cluster and audits the outcome per target. A drain's targets are its nodes and then
every pod it will evict or delete (``namespace/name``), so the audit says, per pod, whether
it left. Planners are pure: they take the cluster as read now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiconsole.actions.plan import Impact, Plan
from aiconsole.actions.policy import Policy
from aiconsole.kubernetes.drain import (
    Budget,
    PodDecision,
    budgets_for,
    decide,
    gpus_text,
    owner_text,
)
from aiconsole.kubernetes.names import check_namespace, check_node, check_pod
from aiconsole.kubernetes.operations import describe_patch, pod_path
from aiconsole.model import KubeCluster, KubeNode, KubePod

RESTARTABLE = ("Job", "ReplicaSet", "StatefulSet")
"""Owners that recreate a deleted pod (a Deployment's pods belong to a ReplicaSet)."""


@dataclass(frozen=True)
class DrainOptions:
    force: bool = False
    """kubectl's meaning: also evict pods that declare no controller."""
    delete_emptydir_data: bool = False
    grace_period: int | None = None
    """Seconds each pod gets to stop; None: the pod's own terminationGracePeriodSeconds."""
    timeout: float | None = 300.0
    """How long the whole drain may take (None: until done, as kubectl's 0)."""


def pod_key(pod: KubePod) -> str:
    return f"{pod.namespace}/{pod.name}"


def out_of_service(node: KubeNode) -> bool:
    return node.unschedulable or node.ready is not True


def is_gpu_node(node: KubeNode) -> bool:
    return bool(node.gpu_allocatable or node.gpu_capacity)


def _nodes(cluster: KubeCluster, names: list[str]) -> tuple[dict[str, KubeNode], list[str]]:
    for name in names:
        check_node(name)
    known = {node.name: node for node in cluster.nodes}
    missing = [f"no node {name} in context {cluster.name}" for name in names if name not in known]
    return {name: known[name] for name in names if name in known}, missing


def blast_radius(cluster: KubeCluster, taking: Iterable[str], policy: Policy) -> list[str]:
    """The share of the cluster's GPU nodes out of service once this action is done."""
    gpu_nodes = [node for node in cluster.nodes if is_gpu_node(node)]
    wanted = set(taking)
    newly = [n.name for n in gpu_nodes if n.name in wanted and not out_of_service(n)]
    if not newly:
        return []
    after = sum(out_of_service(n) or n.name in wanted for n in gpu_nodes)
    if after / len(gpu_nodes) <= policy.max_out_of_service:
        return []
    already = after - len(newly)
    return [
        f"would leave {after} of {len(gpu_nodes)} GPU nodes of {cluster.name} out of service "
        f"({already} already out), more than {policy.max_out_of_service:.0%}; "
        f"--max-out-of-service {after / len(gpu_nodes):.2f} allows it for this command"
    ]


def _gpu_hits(node: KubeNode) -> list[str]:
    if not node.gpu_allocatable:
        return []
    used = node.gpus_used
    product = f" {node.gpu_product}" if node.gpu_product else ""
    return [f"{used} of {node.gpus_total}{product} GPUs requested by pods here"]


def plan_cordon(
    cluster: KubeCluster, names: list[str], policy: Policy, reason: str | None, cordon: bool = True
) -> Plan:
    found, refusals = _nodes(cluster, names)
    impacts, warnings = [], []
    for name, node in found.items():
        if node.unschedulable == cordon:
            state = "cordoned" if cordon else "schedulable"
            warnings.append(f"{name} is already {state}: unchanged")
        hits = _gpu_hits(node) if cordon else []
        if not cordon and node.reason:
            hits.append(f"reason cleared: {node.reason}")
        impacts.append(Impact(name, node.summary, tuple(hits)))
    if cordon:
        refusals += blast_radius(cluster, found, policy)
    return Plan(
        action="cordon" if cordon else "uncordon",
        scope=cluster.name,
        targets=tuple(names),
        impacts=tuple(impacts),
        command=tuple(describe_patch(name, cordon, reason if cordon else None) for name in names),
        reason=reason,
        warnings=tuple(warnings),
        refusals=tuple(refusals),
        expect="every node " + ("is unschedulable" if cordon else "accepts new pods"),
    )


def _decision_line(decision: PodDecision) -> str:
    pod = decision.pod
    head = f"{pod_key(pod)} ({owner_text(pod)}, {pod.phase}, {gpus_text(pod)})"
    if decision.verdict == "evict":
        return f"evict {head}" + (f": {decision.why}" if decision.why else "")
    if decision.verdict == "delete":
        return f"delete {head}: {decision.why}"
    if decision.verdict == "skip":
        return f"skip {head}: {decision.why}"
    return f"REFUSED {head}: {decision.why}"


def plan_drain(
    cluster: KubeCluster,
    names: list[str],
    policy: Policy,
    options: DrainOptions,
    budgets: list[Budget],
    reason: str | None = None,
    orphaned_daemonsets: frozenset[tuple[str, str]] = frozenset(),
) -> Plan:
    """Cordon, then evict in kubectl's way; ``cluster`` holds at least the pods on ``names``."""
    found, refusals = _nodes(cluster, names)
    impacts, warnings, pod_targets = [], [], []
    before: dict[str, str] = {}
    commands = [describe_patch(name, True, reason) for name in found]
    blocked: dict[str, Budget] = {}
    for name, node in found.items():
        if node.unschedulable:
            warnings.append(f"{name} is already cordoned: its pods are still evicted")
        hits = _gpu_hits(node)
        for pod in (p for p in cluster.pods if p.node == name):
            decision = decide(
                pod,
                force=options.force,
                delete_emptydir_data=options.delete_emptydir_data,
                orphaned_daemonset=(pod.namespace, pod.owner_name or "") in orphaned_daemonsets,
            )
            hits.append(_decision_line(decision))
            if decision.verdict == "refuse":
                refusals.append(f"{pod_key(pod)} on {name}: {decision.why}")
            elif decision.verdict in ("evict", "delete"):
                pod_targets.append(pod_key(pod))
                before[pod_key(pod)] = f"{pod.uid} {name}"
                verb = "POST" if decision.verdict == "evict" else "DELETE"
                tail = "/eviction (policy/v1)" if decision.verdict == "evict" else ""
                commands.append(f"{verb} {pod_path(pod.namespace, pod.name)}{tail}")
                if decision.verdict == "evict":
                    for budget in budgets_for(pod, budgets):
                        if budget.disruptions_allowed < 1:
                            blocked[budget.label] = budget
        impacts.append(Impact(name, node.summary, tuple(hits)))
    warnings += [
        f"PodDisruptionBudget {label} allows 0 disruptions now: its pods wait (retried "
        "with backoff until the timeout)"
        for label in sorted(blocked)
    ]
    refusals += blast_radius(cluster, found, policy)
    limit = "no time limit" if options.timeout is None else f"up to {options.timeout:g} s"
    return Plan(
        action="drain",
        scope=cluster.name,
        targets=(*names, *pod_targets),
        impacts=tuple(impacts),
        command=tuple(commands),
        reason=reason,
        warnings=tuple(warnings),
        refusals=tuple(refusals),
        expect=f"every node is unschedulable and every evicted pod gone from it ({limit})",
        before=before,
    )


def split_pod(target: str, namespace: str) -> tuple[str, str]:
    """``name`` or ``namespace/name`` -> (namespace, name), both validated."""
    space, _, name = target.rpartition("/")
    return check_namespace(space or namespace), check_pod(name)


def plan_restart(cluster: KubeCluster, targets: list[str], namespace: str) -> Plan:
    """Delete pods whose controller recreates them; ``cluster`` holds at least those pods."""
    keys = ["/".join(split_pod(target, namespace)) for target in targets]
    pods = {pod_key(pod): pod for pod in cluster.pods}
    impacts, refusals, commands = [], [], []
    before: dict[str, str] = {}
    for key in keys:
        pod = pods.get(key)
        if pod is None:
            refusals.append(f"no pod {key} in context {cluster.name}")
            continue
        hit = f"{owner_text(pod)} on {pod.node or 'no node'}, {gpus_text(pod)}"
        if pod.owner_kind not in RESTARTABLE:
            why = "a bare pod" if pod.owner_kind is None else f"owned by a {pod.owner_kind}"
            refusals.append(
                f"{key} is {why}: only pods of a Job, ReplicaSet or StatefulSet are recreated"
            )
        else:
            hit += f": deleted; {pod.owner_kind} {pod.owner_name} starts a new one"
            before[key] = f"{pod.uid} {pod.owner_uid}"
            commands.append(f"DELETE {pod_path(pod.namespace, pod.name)}")
        impacts.append(Impact(key, pod.phase, (hit,)))
    return Plan(
        action="restart",
        scope=cluster.name,
        targets=tuple(keys),
        impacts=tuple(impacts),
        command=tuple(commands),
        refusals=tuple(refusals),
        expect="a new pod of the same owner exists for each",
        before=before,
    )
