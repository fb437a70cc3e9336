"""The workload of a GPU from its processes' cgroups, when no scheduler says who holds it.

The probe names each GPU process's Slurm job, Kubernetes pod or container from the cgroup
path alone. With a Kubernetes cluster configured, a pod UID becomes the pod's namespace, name
and controller; without one the UID (or the job id) is still shown: the join needs no
scheduler to be useful.
"""

from __future__ import annotations

from aiconsole.model import FleetSnapshot, Gpu, KubePod, Workload


def pods_by_uid(snapshot: FleetSnapshot) -> dict[str, tuple[str, KubePod]]:
    """Pod UID -> (context, pod) over every Kubernetes cluster of the snapshot."""
    return {pod.uid: (cluster.name, pod) for cluster in snapshot.kubernetes for pod in cluster.pods}


def process_workloads(gpu: Gpu, pods: dict[str, tuple[str, KubePod]]) -> tuple[Workload, ...]:
    """One workload per distinct job, pod or container among the GPU's processes."""
    found: dict[tuple[str, str], Workload] = {}
    for process in gpu.processes:
        owner = process.workload
        if owner is None or (owner.kind, owner.id) in found:
            continue
        if owner.kind == "pod" and owner.id in pods:
            context, pod = pods[owner.id]
            controller = f"{pod.owner_kind}/{pod.owner_name}" if pod.owner_kind else None
            workload = Workload(
                kind="pod",
                id=pod.uid,
                cluster=context,
                name=pod.name,
                namespace=pod.namespace,
                owner=controller,
            )
        elif owner.kind == "slurm_job":
            workload = Workload(kind="slurm_job", id=owner.id, user=process.user)
        else:
            workload = Workload(kind=owner.kind, id=owner.id, user=process.user)
        found[(owner.kind, owner.id)] = workload
    return tuple(found.values())
