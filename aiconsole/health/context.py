"""Joining hosts to the scheduler: which job holds each GPU, which Slurm node a host is.

The join is by name, because that is all the two sides share: Slurm names a node as its
``NodeName`` (usually the short host name), the console names a host as its inventory entry
(maybe a FQDN) and the host names itself. A host matches a node when any of those names, or
their first label, is the node's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiconsole.model import FleetSnapshot, HostState, SlurmCluster, SlurmJob, SlurmNode, Workload


def host_names(state: HostState) -> set[str]:
    """Every name a scheduler might use for this host."""
    names = {state.name, state.name.split(".", 1)[0]}
    if state.sample is not None:
        hostname = state.sample.identity.hostname
        names |= {hostname, hostname.split(".", 1)[0]}
    return names


@dataclass(frozen=True)
class SlurmPlace:
    """A host's node in one Slurm cluster, and the jobs running there."""

    cluster: SlurmCluster
    node: SlurmNode
    jobs_by_gpu: dict[int, tuple[Workload, ...]] = field(default_factory=dict)
    """GPU index -> the running jobs whose allocation holds it."""
    jobs: tuple[Workload, ...] = ()
    """Every running job on the node, GPUs or not."""


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

    def held(self, host: str) -> set[int]:
        """GPU indices some running job holds on this host."""
        return {index for place in self.slurm(host) for index in place.jobs_by_gpu}

    def host_workloads(self, host: str) -> tuple[Workload, ...]:
        """Every job running on the host."""
        return tuple(job for place in self.slurm(host) for job in place.jobs)


def _workload(cluster: SlurmCluster, job: SlurmJob) -> Workload:
    job_id = job.job_id
    if job.array_job_id and job.array_task_id:
        job_id = f"{job.array_job_id}_{job.array_task_id}"
    return Workload(kind="slurm_job", id=job_id, cluster=cluster.name, name=job.name, user=job.user)


@dataclass
class _NodeJobs:
    by_gpu: dict[int, list[Workload]] = field(default_factory=dict)
    jobs: list[Workload] = field(default_factory=list)
    frozen: SlurmPlace | None = None
    """The node's place, built once per cluster snapshot (see :func:`join`)."""


# The last clusters indexed, by identity: a cluster snapshot is immutable and replaced only
# when the scheduler is read again (seconds apart), while rules run on every refresh.
_indexed: dict[int, tuple[SlurmCluster, dict[str, _NodeJobs]]] = {}


def _index_jobs(cluster: SlurmCluster) -> dict[str, _NodeJobs]:
    """One pass over the cluster's jobs: node -> its running jobs and who holds each GPU."""
    cached = _indexed.get(id(cluster))
    if cached is not None and cached[0] is cluster:
        return cached[1]
    nodes: dict[str, _NodeJobs] = {}
    for job in cluster.jobs:
        if job.state != "RUNNING":
            continue
        workload = _workload(cluster, job)
        for node in job.nodes:
            nodes.setdefault(node, _NodeJobs()).jobs.append(workload)
        for node, indices in job.gpu_indices.items():
            entry = nodes.setdefault(node, _NodeJobs())
            for index in indices:
                entry.by_gpu.setdefault(index, []).append(workload)
    if len(_indexed) >= 16:
        _indexed.clear()
    _indexed[id(cluster)] = (cluster, nodes)
    return nodes


def jobs_on(cluster: SlurmCluster, node: str) -> tuple[Workload, ...]:
    entry = _index_jobs(cluster).get(node)
    return tuple(entry.jobs) if entry else ()


def join(snapshot: FleetSnapshot) -> Join:
    """Match every host with the Slurm nodes of the same name and the jobs on its GPUs.

    Linear in hosts + nodes + jobs: it runs on every refresh of a thousand-node fleet."""
    nodes: dict[str, list[tuple[SlurmCluster, SlurmNode, _NodeJobs | None]]] = {}
    for cluster in snapshot.clusters:
        jobs = _index_jobs(cluster)
        for node in cluster.nodes:
            nodes.setdefault(node.name, []).append((cluster, node, jobs.get(node.name)))
    places: dict[str, tuple[SlurmPlace, ...]] = {}
    for state in snapshot.hosts:
        matched: list[SlurmPlace] = []
        for name in sorted(host_names(state)):
            for cluster, node, entry in nodes.get(name, ()):
                if any(p.cluster is cluster for p in matched):
                    continue
                if entry is None:
                    matched.append(SlurmPlace(cluster, node))
                    continue
                if entry.frozen is None or entry.frozen.node is not node:
                    by_gpu = {i: tuple(w) for i, w in entry.by_gpu.items()}
                    entry.frozen = SlurmPlace(cluster, node, by_gpu, tuple(entry.jobs))
                matched.append(entry.frozen)
        if matched:
            places[state.name] = tuple(matched)
    return Join(places)


def _one(w: Workload) -> str:
    if w.kind == "pod":
        return f"pod {w.namespace}/{w.name}" if w.name else f"pod {w.id}"
    if w.kind == "container":
        return f"container {w.id[:12]}"
    return f"job {w.id}"


def describe(workloads: tuple[Workload, ...]) -> str:
    """``job 81234 alice`` / ``pod ml/train-0`` / ``jobs 1, 2`` / empty: for summaries."""
    if not workloads:
        return ""
    if len(workloads) == 1:
        w = workloads[0]
        return _one(w) + (f" {w.user}" if w.user and w.kind != "pod" else "")
    if all(w.kind == "slurm_job" for w in workloads):
        return "jobs " + ", ".join(w.id for w in workloads)
    return ", ".join(_one(w) for w in workloads)
