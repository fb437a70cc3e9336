"""Join a host of the fleet to its Kubernetes node (same name, short name or address)."""

from __future__ import annotations

from aiconsole.kubernetes.drain import gpus_text
from aiconsole.model import FleetSnapshot, KubeCluster, KubeNode

MAX_PODS_SHOWN = 12


def node_for(names: set[str], snapshot: FleetSnapshot) -> tuple[KubeCluster, KubeNode] | None:
    """The first Kubernetes node that is one of ``names`` (host names or addresses)."""
    wanted = names | {name.split(".")[0] for name in names if not name[:1].isdigit()}
    for cluster in snapshot.kubernetes:
        for node in cluster.nodes:
            if node.name in wanted or node.name.split(".")[0] in wanted:
                return cluster, node
            if wanted.intersection(node.addresses):
                return cluster, node
    return None


def kube_line(names: set[str], snapshot: FleetSnapshot) -> str:
    """The host's Kubernetes state and the pods on it, GPU holders first; "" when none."""
    found = node_for(names, snapshot)
    if found is None:
        return ""
    cluster, node = found
    text = f"Kubernetes {cluster.name}: {node.name} {node.summary}"
    if cluster.status != "ok":
        text += f" [{cluster.status}]"
    if node.reason:
        text += f" (reason: {node.reason})"
    if node.gpu_allocatable:
        product = f" {node.gpu_product}" if node.gpu_product else ""
        text += f", GPUs {node.gpus_used}/{node.gpus_total}{product} requested"
    if node.problems:
        text += "; " + "; ".join(node.problems)
    pods = sorted(
        (p for p in cluster.pods if p.node == node.name and p.phase not in ("Succeeded", "Failed")),
        key=lambda p: (-sum(p.gpus.values()), p.namespace, p.name),
    )
    shown = [
        f"{p.namespace}/{p.name} ({p.owner_kind or 'bare'}, {gpus_text(p)})"
        for p in pods[:MAX_PODS_SHOWN]
    ]
    if len(pods) > MAX_PODS_SHOWN:
        shown.append(f"… {len(pods) - MAX_PODS_SHOWN} more")
    if shown:
        text += "\npods: " + "; ".join(shown)
    return text
