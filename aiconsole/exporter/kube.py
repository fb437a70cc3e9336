"""Kubernetes node families under ``aiconsole_kubernetes_`` names, one set per context.

They mirror the Slurm node families: whether the cluster could be read, each node's state as
``kubectl get nodes`` names it (the ``state`` label, value 1), readiness and cordoning as 0/1
gauges for alert rules, and GPU counts per resource name (``nvidia.com/gpu``,
``nvidia.com/mig-1g.10gb``, ``amd.com/gpu``): what the node has, what the scheduler may hand
out, and what pods bound to it request. A node that reports no Ready condition gets no
readiness series rather than a false 0.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiconsole.exporter.hosts import Metric, gauge
from aiconsole.model import FleetSnapshot

CLUSTER = ["cluster"]
NODE = ["cluster", "node"]
GPU_RESOURCE = [*NODE, "resource"]


def kubernetes_families(snapshot: FleetSnapshot) -> Iterator[Metric]:
    up = gauge(
        "aiconsole_kubernetes_up",
        "1 when the context's latest read succeeded (cluster = kubeconfig context).",
        CLUSTER,
    )
    state = gauge(
        "aiconsole_kubernetes_node_state",
        "1 for the node's state as kubectl names it (the label).",
        [*NODE, "state"],
    )
    ready = gauge(
        "aiconsole_kubernetes_node_ready", "1 when the node's Ready condition is True.", NODE
    )
    cordoned = gauge(
        "aiconsole_kubernetes_node_cordoned",
        "1 when the node is cordoned (unschedulable).",
        NODE,
    )
    capacity = gauge(
        "aiconsole_kubernetes_node_gpus", "GPUs the node has, per resource.", GPU_RESOURCE
    )
    allocatable = gauge(
        "aiconsole_kubernetes_node_gpus_allocatable",
        "GPUs the scheduler may hand out on the node, per resource.",
        GPU_RESOURCE,
    )
    allocated = gauge(
        "aiconsole_kubernetes_node_gpus_allocated",
        "GPUs requested by unfinished pods bound to the node, per resource.",
        GPU_RESOURCE,
    )
    for cluster in snapshot.kubernetes:
        up.add_metric([cluster.name], 1.0 if cluster.status == "ok" else 0.0)
        for node in cluster.nodes:
            where = [cluster.name, node.name]
            state.add_metric([*where, node.summary], 1.0)
            if node.ready is not None:
                ready.add_metric(where, 1.0 if node.ready else 0.0)
            cordoned.add_metric(where, 1.0 if node.unschedulable else 0.0)
            for family, counts in (
                (capacity, node.gpu_capacity),
                (allocatable, node.gpu_allocatable),
                (allocated, node.gpu_requested),
            ):
                for resource, count in sorted(counts.items()):
                    family.add_metric([*where, resource], float(count))
    yield from (up, state, ready, cordoned, capacity, allocatable, allocated)
