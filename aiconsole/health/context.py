"""Joining hosts to the scheduler: which job holds each GPU, which Slurm node a host is.

The join is by name, because that is all the two sides share: Slurm names a node as its
``NodeName`` (usually the short host name), the console names a host as its inventory entry
(maybe a FQDN) and the host names itself. A host matches a node when any of those names, or
their first label, is the node's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aiconsole.model import FleetSnapshot, HostState, SlurmCluster, SlurmNode, Workload


def host_names(state: HostState) -> set[str]:
    """Every name a scheduler might use for this host."""
    names = {state.name, state.name.split(".", 1)[0]}
    if state.sample is not None:
        hostname = state.sample.identity.hostname
        names |= {hostname, hostname.split(".", 1)[0]}
    return names


@dataclass(frozen=True)
class SlurmPlace:
    """A host's node in one Slurm cluster, and the jobs holding its GPUs."""

    cluster: SlurmCluster
    node: SlurmNode
    jobs_by_gpu: dict[int, tuple[Workload, ...]] = field(default_factory=dict)
    """GPU index -> the running jobs whose allocation holds it."""


@dataclass(frozen=True)
class Join:
    """Host name -> its Slurm nodes (one per cluster that knows it)."""

    places: dict[str, tuple[SlurmPlace, ...]]

    def slurm(self, host: str) -> tuple[SlurmPlace, ...]:
        return self.places.get(host, ())

    def workloads(self, host: str, gpu_index: int) -> tuple[Workload, ...]:
        found: list[Workload] = []
        for place in self.slurm(host):
            found.extend(place.jobs_by_gpu.get(gpu_index, ()))
        return tuple(found)

    def host_workloads(self, host: str) -> tuple[Workload, ...]:
        """Every job running on the host, once each."""
        seen: dict[str, Workload] = {}
        for place in self.slurm(host):
            for jobs in place.jobs_by_gpu.values():
                for job in jobs:
                    seen.setdefault(f"{job.cluster}/{job.id}", job)
            for job in jobs_on(place.cluster, place.node.name):
                seen.setdefault(f"{job.cluster}/{job.id}", job)
        return tuple(seen.values())


def _job_id(array_job: str | None, task: str | None, job_id: str) -> str:
    return f"{array_job}_{task}" if array_job and task else job_id


def jobs_on(cluster: SlurmCluster, node: str) -> Iterable[Workload]:
    for job in cluster.jobs:
        if job.state == "RUNNING" and node in job.nodes:
            yield _workload(cluster, job.job_id, job.array_job_id, job.array_task_id, job)


def _workload(
    cluster: SlurmCluster, job_id: str, array_job: str | None, task: str | None, job: object
) -> Workload:
    return Workload(
        kind="slurm_job",
        id=_job_id(array_job, task, job_id),
        cluster=cluster.name,
        name=getattr(job, "name", None),
        user=getattr(job, "user", None),
    )


def join(snapshot: FleetSnapshot) -> Join:
    """Match every host with the Slurm nodes of the same name and the jobs on its GPUs."""
    nodes: dict[str, list[tuple[SlurmCluster, SlurmNode]]] = {}
    for cluster in snapshot.clusters:
        for node in cluster.nodes:
            nodes.setdefault(node.name, []).append((cluster, node))
    places: dict[str, tuple[SlurmPlace, ...]] = {}
    for state in snapshot.hosts:
        matched: list[SlurmPlace] = []
        for name in sorted(host_names(state)):
            for cluster, node in nodes.get(name, ()):
                if any(p.cluster is cluster for p in matched):
                    continue
                matched.append(SlurmPlace(cluster, node, _gpu_jobs(cluster, node.name)))
        if matched:
            places[state.name] = tuple(matched)
    return Join(places)


def _gpu_jobs(cluster: SlurmCluster, node: str) -> dict[int, tuple[Workload, ...]]:
    by_gpu: dict[int, list[Workload]] = {}
    for job in cluster.jobs:
        if job.state != "RUNNING":
            continue
        for index in job.gpu_indices.get(node, ()):
            workload = _workload(cluster, job.job_id, job.array_job_id, job.array_task_id, job)
            by_gpu.setdefault(index, []).append(workload)
    return {index: tuple(jobs) for index, jobs in by_gpu.items()}


def describe(workloads: tuple[Workload, ...]) -> str:
    """``job 81234 alice`` / ``jobs 1, 2`` / empty: for reasons and summaries."""
    if not workloads:
        return ""
    if len(workloads) == 1:
        w = workloads[0]
        return f"job {w.id}" + (f" {w.user}" if w.user else "")
    return "jobs " + ", ".join(w.id for w in workloads)
