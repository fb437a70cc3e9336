"""A Kubernetes cluster as the rebalance planners see it: GPU heat per node (from the hosts
that are its nodes), which pods an eviction may move, and a mutable copy of the GPU
requests per node for trying moves out.

Pure: the snapshot, the cluster and its PodDisruptionBudgets in, decisions out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiconsole.health.context import host_names
from aiconsole.kubernetes.constraints import why_not_on
from aiconsole.kubernetes.drain import FINISHED, Budget, budgets_for
from aiconsole.model import FleetSnapshot, HostState, KubeCluster, KubeNode, KubePod
from aiconsole.rebalance.hot import NodeHeat, _heat

MOVABLE_OWNERS = ("Job", "ReplicaSet", "StatefulSet")
"""Controllers that start a new pod when one is evicted (a Deployment's pods belong to a
ReplicaSet). DaemonSet pods would come straight back to the same node; bare pods never."""


def pod_key(pod: KubePod) -> str:
    return f"{pod.namespace}/{pod.name}"


def owner_of(pod: KubePod) -> str:
    return f"{pod.owner_kind}/{pod.owner_name}" if pod.owner_kind else "bare pod"


def holds_gpus(pod: KubePod) -> bool:
    return bool(pod.gpus) and pod.node is not None and pod.phase not in FINISHED


def node_hosts(snapshot: FleetSnapshot, cluster: KubeCluster) -> dict[str, HostState]:
    """Kubernetes node name -> the host of the fleet that is that node (name, short name or
    one of the node's addresses)."""
    by_name: dict[str, str] = {}
    for node in cluster.nodes:
        for name in (node.name, node.name.split(".", 1)[0], *node.addresses):
            by_name.setdefault(name, node.name)
    found: dict[str, HostState] = {}
    for state in snapshot.hosts:
        for name in sorted(host_names(state)):
            match = by_name.get(name)
            if match is not None and match not in found:
                found[match] = state
                break
    return found


def kube_heat(snapshot: FleetSnapshot, cluster: KubeCluster) -> dict[str, NodeHeat]:
    """Per node: its host's hottest GPU, mean GPU use, slowdowns, and warning findings on the
    host or on the node itself (not Ready, pressure)."""
    hosts = node_hosts(snapshot, cluster)
    by_host: dict[str, int] = {}
    by_node: dict[str, int] = {}
    for finding in snapshot.findings:
        if finding.severity not in ("warning", "critical"):
            continue
        subject = finding.subject
        if subject.host is not None:
            by_host[subject.host] = by_host.get(subject.host, 0) + 1
        elif subject.kind == "k8s_node" and subject.cluster == cluster.name and subject.name:
            by_node[subject.name] = by_node.get(subject.name, 0) + 1
    heat = {}
    for node in cluster.nodes:
        host = hosts.get(node.name)
        count = by_node.get(node.name, 0) + (by_host.get(host.name, 0) if host else 0)
        heat[node.name] = _heat(node.name, host, count)
    return heat


def why_not_movable(pod: KubePod) -> str | None:
    """Why evicting this pod would not move it (None: its controller starts a new one)."""
    if pod.mirror:
        return "mirror of a static pod: the kubelet owns it"
    if pod.owner_kind is None:
        return "a bare pod: nothing would recreate it"
    if pod.owner_kind == "DaemonSet":
        return f"DaemonSet {pod.owner_name} keeps it on its node"
    if pod.owner_kind not in MOVABLE_OWNERS:
        return f"owned by a {pod.owner_kind}, which may not recreate it"
    if pod.empty_dir_volumes:
        return f"has local emptyDir data ({','.join(pod.empty_dir_volumes)}) an eviction deletes"
    if pod.deleting:
        return "already terminating"
    return None


@dataclass
class Budgets:
    """PodDisruptionBudgets, with the disruptions this plan has already spent."""

    budgets: list[Budget]
    spent: dict[str, int] = field(default_factory=dict)

    def refusal(self, pod: KubePod) -> str | None:
        """Why the API server would refuse this eviction now (None: it would take it)."""
        covering = budgets_for(pod, self.budgets)
        if len(covering) > 1:
            names = ", ".join(b.label for b in covering)
            return f"covered by several PodDisruptionBudgets ({names}): eviction is refused"
        for budget in covering:
            left = budget.disruptions_allowed - self.spent.get(budget.label, 0)
            if left < 1:
                already = self.spent.get(budget.label, 0)
                tail = f" ({already} spent by this plan)" if already else ""
                return (
                    f"PodDisruptionBudget {budget.label} allows "
                    f"{budget.disruptions_allowed} disruption(s){tail}"
                )
        return None

    def spend(self, pod: KubePod) -> None:
        for budget in budgets_for(pod, self.budgets):
            self.spent[budget.label] = self.spent.get(budget.label, 0) + 1


@dataclass
class Room:
    """Free GPUs per node and resource, changed as moves are tried."""

    nodes: dict[str, KubeNode]
    free: dict[str, dict[str, int]]

    @classmethod
    def of(cls, cluster: KubeCluster) -> Room:
        free = {
            node.name: {
                name: count - node.gpu_requested.get(name, 0)
                for name, count in node.gpu_allocatable.items()
            }
            for node in cluster.nodes
        }
        return cls({node.name: node for node in cluster.nodes}, free)

    def used(self, node: str) -> int:
        known = self.nodes[node]
        return known.gpus_total - sum(max(0, n) for n in self.free[node].values())

    def why_not(self, pod: KubePod, node: str) -> str | None:
        known = self.nodes[node]
        if known.unschedulable or known.ready is not True:
            return known.summary
        short = [
            f"{self.free[node].get(name, 0)} free {name}"
            for name, count in sorted(pod.gpus.items())
            if self.free[node].get(name, 0) < count
        ]
        if short:
            return ", ".join(short)
        return why_not_on(pod, known)

    def best_fit(self, pod: KubePod, candidates: list[str]) -> tuple[str | None, list[str]]:
        """The candidate that fits with the fewest GPUs left over, and why the others did not."""
        fits: list[tuple[int, str]] = []
        reasons: list[str] = []
        for name in candidates:
            why = self.why_not(pod, name)
            if why is None:
                left = sum(self.free[name].get(r, 0) - c for r, c in pod.gpus.items())
                fits.append((left, name))
            else:
                reasons.append(f"{name}: {why}")
        return (min(fits)[1] if fits else None), reasons

    def move(self, pod: KubePod, source: str, target: str | None) -> None:
        for name, count in pod.gpus.items():
            self.free[source][name] = self.free[source].get(name, 0) + count
            if target is not None:
                self.free[target][name] = self.free[target].get(name, 0) - count
