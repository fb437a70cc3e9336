"""Read a cluster as it is now and plan a Kubernetes action on it: one entry point for the
CLI and the TUI (``cordon``, ``uncordon``, ``drain``, ``restart`` by name)."""

from __future__ import annotations

import msgspec

from aiconsole.actions import kubernetes as kube_actions
from aiconsole.actions.plan import Plan
from aiconsole.actions.policy import Policy
from aiconsole.kubernetes import operations
from aiconsole.kubernetes.api import KubeApi
from aiconsole.kubernetes.drain import FINISHED
from aiconsole.model import KubeCluster

ACTIONS = ("cordon", "uncordon", "drain", "restart")


async def plan_kubernetes(
    api: KubeApi,
    action: str,
    targets: list[str],
    policy: Policy,
    *,
    options: kube_actions.DrainOptions | None = None,
    reason: str | None = None,
    namespace: str = "default",
) -> tuple[Plan, KubeCluster]:
    """The plan, and the cluster as read for it (the executor needs the pods' uids).

    ``targets``: node names, or for ``restart`` pods as ``name`` or ``namespace/name``."""
    if action == "restart":
        cluster = await operations.read_cluster(api, [])
        pods = []
        for target in targets:
            space, name = kube_actions.split_pod(target, namespace)
            pod = await operations.read_pod(api, space, name)
            if pod is not None:
                pods.append(pod)
        cluster = msgspec.structs.replace(cluster, pods=tuple(pods))
        return kube_actions.plan_restart(cluster, targets, namespace), cluster
    if action in ("cordon", "uncordon"):
        cluster = await operations.read_cluster(api, [])
        plan = kube_actions.plan_cordon(cluster, targets, policy, reason, action == "cordon")
        return plan, cluster
    if action != "drain":
        raise ValueError(f"unknown Kubernetes action {action!r}")
    cluster = await operations.read_cluster(api, targets)
    budgets = await operations.read_budgets(api)
    # As kubectl: a DaemonSet pod whose DaemonSet is gone is an orphan, not skipped.
    daemonsets = {
        (pod.namespace, pod.owner_name)
        for pod in cluster.pods
        if pod.owner_kind == "DaemonSet" and pod.owner_name and pod.phase not in FINISHED
    }
    orphaned = set()
    for space, name in sorted(daemonsets):
        if not await operations.daemonset_exists(api, space, name):
            orphaned.add((space, name))
    plan = kube_actions.plan_drain(
        cluster,
        targets,
        policy,
        options or kube_actions.DrainOptions(),
        budgets,
        reason,
        frozenset(orphaned),
    )
    return plan, cluster
