"""A model of Slurm's GPU placement, good enough to decide whether a job can start.

Nodes are schedulable when they are up and not draining; a job of N nodes x g GPUs in a
partition starts when N such nodes of that partition each have g free GPUs. Placement is
best fit (the node with the fewest free GPUs that still fits), which is what Slurm's
consumable-resource selection does for GPUs in effect: it packs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from aiconsole.model import SlurmCluster, SlurmJob, SlurmNode

UNSCHEDULABLE_FLAGS = frozenset(
    {"DRAIN", "NOT_RESPONDING", "FAIL", "MAINT", "REBOOT", "POWERED_DOWN"}
)
UNSCHEDULABLE_STATES = frozenset({"down", "drained", "draining", "fail", "future", "unknown"})


@dataclass(frozen=True)
class Node:
    name: str
    partitions: frozenset[str]
    gpus_total: int
    gpus_used: int
    schedulable: bool

    @property
    def free(self) -> int:
        return self.gpus_total - self.gpus_used


@dataclass(frozen=True)
class Job:
    id: str
    state: str
    partition: str | None
    nodes: tuple[str, ...]
    gpus_per_node: int
    nodes_requested: int
    priority: int
    requeueable: bool
    elapsed_s: float
    user: str | None

    @property
    def gpus(self) -> int:
        return self.gpus_per_node * max(len(self.nodes), self.nodes_requested, 1)

    def cost_gpu_hours(self) -> float:
        """Progress a requeue throws away (its GPUs, for as long as it has run)."""
        return self.gpus * self.elapsed_s / 3600.0


def _node(node: SlurmNode) -> Node:
    schedulable = node.state.rstrip("*~#!%$@^-") not in UNSCHEDULABLE_STATES and not (
        UNSCHEDULABLE_FLAGS & set(node.flags)
    )
    total = node.gpus_total or 0
    return Node(
        node.name, frozenset(node.partitions), total, min(node.gpus_used or 0, total), schedulable
    )


def _gpus_per_node(job: SlurmJob) -> int:
    if job.gpu_indices:
        return max(len(indices) for indices in job.gpu_indices.values())
    return job.gpus_per_node or 0


def _job(job: SlurmJob) -> Job:
    job_id = job.job_id
    if job.array_job_id and job.array_task_id:
        job_id = f"{job.array_job_id}_{job.array_task_id}"
    return Job(
        id=job_id,
        state=job.state,
        partition=job.partition,
        nodes=job.nodes,
        gpus_per_node=_gpus_per_node(job),
        nodes_requested=job.nodes_requested or len(job.nodes) or 1,
        priority=job.priority if job.priority is not None else 0,
        requeueable=job.requeueable is True,  # unknown counts as "no": never guess
        elapsed_s=float(job.time_used_s or 0),
        user=job.user,
    )


@dataclass
class Cluster:
    """A mutable copy of a cluster's GPU allocation, for trying moves out."""

    nodes: dict[str, Node]
    jobs: dict[str, Job] = field(default_factory=dict)
    _by_node: dict[str, list[Job]] | None = field(default=None, repr=False)
    """Running jobs per node, built on first use; entries whose job changed are skipped."""

    @classmethod
    def of(cls, cluster: SlurmCluster) -> Cluster:
        return cls(
            {node.name: _node(node) for node in cluster.nodes},
            {job.id: job for job in map(_job, cluster.jobs)},
        )

    def copy(self) -> Cluster:
        return Cluster(dict(self.nodes), dict(self.jobs))

    def running_on(self, node: str) -> list[Job]:
        if self._by_node is None:
            index: dict[str, list[Job]] = {}
            for job in self.jobs.values():
                if job.state == "RUNNING":
                    for name in job.nodes:
                        index.setdefault(name, []).append(job)
            self._by_node = index
        return [j for j in self._by_node.get(node, ()) if self.jobs.get(j.id) is j]

    def release(self, job: Job) -> None:
        """Take a running job off its nodes (a requeue)."""
        for name in job.nodes:
            node = self.nodes.get(name)
            if node is not None:
                self.nodes[name] = replace(
                    node, gpus_used=max(0, node.gpus_used - job.gpus_per_node)
                )
        self.jobs[job.id] = replace(job, state="PENDING", nodes=())

    def fits(self, job: Job, exclude: frozenset[str] = frozenset()) -> list[str] | None:
        """Best-fit nodes for the job, or None if it cannot start now."""
        wanted = job.nodes_requested
        # A job submitted to several partitions (-p a,b) may run in any of them.
        partitions = set(job.partition.split(",")) if job.partition else None
        candidates = [
            node
            for node in self.nodes.values()
            if node.schedulable
            and node.name not in exclude
            and node.free >= job.gpus_per_node
            and (partitions is None or not partitions.isdisjoint(node.partitions))
        ]
        if len(candidates) < wanted:
            return None
        candidates.sort(key=lambda node: (node.free, node.name))
        return [node.name for node in candidates[:wanted]]

    def place(self, job: Job, nodes: list[str]) -> None:
        for name in nodes:
            node = self.nodes[name]
            self.nodes[name] = replace(node, gpus_used=node.gpus_used + job.gpus_per_node)
        placed = replace(job, state="RUNNING", nodes=tuple(nodes))
        self.jobs[job.id] = placed
        if self._by_node is not None:
            for name in nodes:
                self._by_node.setdefault(name, []).append(placed)
