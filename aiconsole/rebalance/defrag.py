"""Defragment for pending work: requeue the fewest, cheapest jobs so the largest blocked
pending job can start, and only if every requeued job can be placed again.

For the pending job of N nodes x g GPUs: each node of its partition that could hold g GPUs
is costed by the smallest set of running, requeueable jobs whose GPUs cover its deficit
(fewest jobs first, then the least progress lost, then the lowest priority); the N cheapest
nodes are taken, the requeues and the start are simulated, and the plan stands only if each requeued
job then fits somewhere (a move whose work has nowhere to go is no move).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from aiconsole.model import SlurmCluster
from aiconsole.rebalance.moves import Move, NodeView, Result
from aiconsole.rebalance.placement import Cluster, Job

MAX_COMBINATIONS = 5000
"""Subsets tried per node; nodes hold at most a few dozen jobs, so this is seldom reached."""


@dataclass(frozen=True)
class Limits:
    max_moves: int = 8
    """Requeues in one plan."""
    max_per_user: int = 4
    """Requeues of one user's jobs in one plan."""


@dataclass(frozen=True)
class Freeing:
    node: str
    jobs: tuple[Job, ...]

    @property
    def key(self) -> tuple[int, float, int]:
        # Fewest jobs; then the least progress lost (GPUs x time run: the least elapsed time
        # first); then the lowest priority.
        return (
            len(self.jobs),
            round(sum(j.cost_gpu_hours() for j in self.jobs), 6),
            sum(j.priority for j in self.jobs),
        )


def cheapest_freeing(cluster: Cluster, node: str, deficit: int) -> Freeing | None:
    """The fewest requeueable jobs on ``node`` whose GPUs cover ``deficit``."""
    if deficit <= 0:
        return Freeing(node, ())
    candidates = [
        job
        for job in cluster.running_on(node)
        if job.requeueable and job.gpus_per_node > 0 and len(job.nodes) == 1
    ]
    if sum(j.gpus_per_node for j in candidates) < deficit:
        return None
    tried = 0
    for size in range(1, len(candidates) + 1):
        best: Freeing | None = None
        for subset in combinations(candidates, size):
            tried += 1
            if sum(j.gpus_per_node for j in subset) >= deficit:
                option = Freeing(node, subset)
                if best is None or option.key < best.key:
                    best = option
            if tried > MAX_COMBINATIONS:
                break
        if best is not None:
            return best
    return None


def blocked_pending(cluster: Cluster) -> list[Job]:
    """Pending, not held, GPU jobs that cannot start now: the largest (then most urgent) first."""
    pending = [
        job
        for job in cluster.jobs.values()
        if job.state == "PENDING" and job.priority > 0 and job.gpus_per_node > 0
    ]
    pending.sort(key=lambda job: (-job.gpus, -job.priority, job.id))
    return [job for job in pending if cluster.fits(job) is None]


def _try(cluster: Cluster, target: Job, limits: Limits) -> tuple[Result | None, str]:
    partitions = set(target.partition.split(",")) if target.partition else None
    options: list[Freeing] = []
    for node in cluster.nodes.values():
        if not node.schedulable or node.gpus_total < target.gpus_per_node:
            continue
        if partitions is not None and partitions.isdisjoint(node.partitions):
            continue
        freeing = cheapest_freeing(cluster, node.name, target.gpus_per_node - node.free)
        if freeing is not None:
            options.append(freeing)
    options.sort(key=lambda f: (f.key, f.node))
    wanted = target.nodes_requested
    if len(options) < wanted:
        return None, f"{target.id}: no {wanted} node(s) can be freed for it"
    # Try the cheapest choice first, then shift the window: a cheap node whose requeued work
    # cannot be placed again is skipped for the next one.
    for start in range(0, len(options) - wanted + 1):
        chosen = options[start : start + wanted]
        requeued = [job for f in chosen for job in f.jobs]
        if len(requeued) > limits.max_moves:
            return None, f"{target.id}: needs {len(requeued)} requeues (cap {limits.max_moves})"
        per_user: dict[str | None, int] = {}
        for job in requeued:
            per_user[job.user] = per_user.get(job.user, 0) + 1
        if any(count > limits.max_per_user for count in per_user.values()):
            continue
        after = cluster.copy()
        for job in requeued:
            after.release(job)
        nodes = [f.node for f in chosen]
        after.place(target, nodes)
        moves: list[Move] = []
        for job in sorted(requeued, key=lambda j: (-j.priority, j.id)):
            fit = after.fits(job)
            if fit is None:
                break
            after.place(job, fit)
            moves.append(
                Move(
                    job.id,
                    "requeue",
                    job.nodes[0],
                    ",".join(fit),
                    f"frees {job.gpus_per_node} GPU(s) on {job.nodes[0]} for {target.id}",
                    job.gpus,
                    job.user,
                    job.cost_gpu_hours(),
                )
            )
        else:
            return _result(cluster, after, target, tuple(moves)), ""
    return None, f"{target.id}: the requeued jobs would have nowhere to run"


def _result(before: Cluster, after: Cluster, target: Job, moves: tuple[Move, ...]) -> Result:
    touched = {m.source for m in moves} | set(after.jobs[target.id].nodes)
    touched |= {n for m in moves for n in (m.target or "").split(",") if n}
    views = tuple(
        NodeView(
            name,
            before.nodes[name].gpus_total,
            before.nodes[name].gpus_used,
            after.nodes[name].gpus_used,
        )
        for name in sorted(touched)
    )
    return Result(
        policy="defrag",
        moves=moves,
        nodes=views,
        starts=target.id,
        merit={
            "pending_gpus_started": float(target.gpus),
            "jobs_requeued": float(len(moves)),
            "gpu_hours_lost": sum(m.cost_gpu_hours for m in moves),
        },
    )


def plan_defrag(cluster: SlurmCluster, limits: Limits | None = None) -> Result:
    """The cheapest plan that lets the largest blocked pending job start, or the refusals."""
    limits = limits or Limits()
    state = Cluster.of(cluster)
    refusals: list[str] = []
    for target in blocked_pending(state):
        result, refusal = _try(state, target, limits)
        if result is not None:
            return Result(
                result.policy,
                result.moves,
                tuple(refusals),
                result.nodes,
                result.merit,
                result.starts,
            )
        refusals.append(refusal)
        if len(refusals) >= 5:
            break
    if not refusals:
        refusals.append("no pending GPU job is blocked")
    return Result("defrag", refusals=tuple(refusals))
