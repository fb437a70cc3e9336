"""A rebalance as one plan of the action machinery: what moves, what stays and why, before and
after per node, and the commands that carry it out on Slurm.

defrag and hot requeue jobs (``scontrol requeue``); a hot move then keeps the job off the node
it left (``scontrol update JobId=... ExcNodeList=...``: Slurm takes an exclusion only from a
pending job, and a requeued job waits about two minutes before it may start again). idle
tells by default (a plan with no command) or requeues with a hold. Only jobs Slurm may requeue
(``Requeue=1``) are ever requeued; caps bound one cycle's moves, per node and per user, and
the share of a partition whose work a plan disturbs is held to the blast-radius cap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiconsole.actions.plan import Impact, Plan
from aiconsole.actions.policy import Policy
from aiconsole.actions.rebalance_verify import RebalanceVerifier
from aiconsole.actions.slurm import cluster_caution, job_label
from aiconsole.model import SlurmCluster, SlurmJob
from aiconsole.rebalance.hot import NodeHeat
from aiconsole.rebalance.moves import Move, NodeView, Result
from aiconsole.slurm import commands

REQUEUES = ("requeue", "requeue-hold")
MERIT_WORDS = {
    "pending_gpus_started": "pending GPUs that start",
    "jobs_requeued": "jobs requeued",
    "gpu_hours_lost": "GPU-hours of progress lost",
    "hot_nodes": "hot nodes",
    "hot_nodes_relieved": "hot nodes relieved",
    "idle_jobs": "idle jobs",
    "gpus_idle": "GPUs held idle",
    "gpu_hours_wasted": "GPU-hours wasted so far",
    "gpus_freed": "GPUs freed",
}


@dataclass(frozen=True)
class Caps:
    """How much one rebalance cycle may move."""

    max_moves: int = 8
    max_per_node: int = 2
    """Jobs moved off one node."""
    max_per_user: int = 4
    """Jobs of one user moved."""


def _over_caps(moves: list[Move], caps: Caps) -> tuple[list[Move], list[str]]:
    """(the moves within the caps, in the planner's order; what each cap left out)."""
    kept: list[Move] = []
    left: list[str] = []
    per_node: dict[str, int] = {}
    per_user: dict[str, int] = {}
    for move in moves:
        owner = move.owner or "?"
        if len(kept) >= caps.max_moves:
            left.append(f"{move.workload}: over the cap of {caps.max_moves} moves per cycle")
        elif per_node.get(move.source, 0) >= caps.max_per_node:
            left.append(f"{move.workload}: over the cap of {caps.max_per_node} moves off a node")
        elif per_user.get(owner, 0) >= caps.max_per_user:
            left.append(f"{move.workload}: over the cap of {caps.max_per_user} moves of {owner}")
        else:
            kept.append(move)
            per_node[move.source] = per_node.get(move.source, 0) + 1
            per_user[owner] = per_user.get(owner, 0) + 1
    return kept, left


def _number(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.0f}{unit}"


def node_table(nodes: tuple[NodeView, ...], heat: dict[str, NodeHeat]) -> list[str]:
    """Before/after per node: GPUs allocated, actual GPU use and the hottest GPU."""
    if not nodes:
        return []
    lines = ["node          GPUs before -> after   GPU use   hottest"]
    for view in nodes:
        known = heat.get(view.name)
        util = view.util_percent
        if util is None and known is not None:
            util = known.util
        temp = view.temperature_c
        if temp is None and known is not None:
            temp = known.hottest_c
        lines.append(
            f"{view.name:<13} {view.gpus_allocated:>3}/{view.gpus_total:<3} -> "
            f"{view.gpus_allocated_after:>3}/{view.gpus_total:<3}  "
            f"{_number(util, ' %'):>7}   {_number(temp, ' C'):>7}"
        )
    return lines


def _impact(move: Move, jobs: dict[str, SlurmJob]) -> Impact:
    job = jobs.get(move.workload)
    where = move.target or "rescheduled"
    if move.kind == "notify":
        what = f"notify {move.owner or '?'}: nothing is done to the job"
    elif move.kind == "requeue-hold":
        what = "requeued and held until its owner releases it"
    else:
        what = f"requeued: from {move.source} to {where}"
        if move.exclude:
            what += f" (kept off {','.join(move.exclude)})"
    name = job.name if job is not None and job.name else "?"
    hits: tuple[str, ...] = (
        f"job {move.workload} ({move.owner or '?'}, {name}), {move.gpus} GPU(s) on {move.source}",
        what,
        f"why: {move.why}",
    )
    if move.kind != "notify":
        hits += (f"progress lost: {move.cost_gpu_hours:.2f} GPU-hours",)
    return Impact(move.workload, job.state if job is not None else "missing", hits)


def _safety(
    moves: list[Move], cluster: SlurmCluster, jobs: dict[str, SlurmJob], policy: Policy
) -> list[str]:
    """Refusals: a job Slurm may not requeue, or too large a share of a partition touched."""
    refusals = []
    touched: dict[str, set[str]] = {}
    partitions_of = {node.name: node.partitions for node in cluster.nodes}
    for move in moves:
        if move.kind not in REQUEUES:
            continue
        job = jobs.get(move.workload)
        if job is None:
            refusals.append(f"no job {move.workload} in cluster {cluster.name}")
            continue
        if job.requeueable is not True:
            refusals.append(f"job {move.workload} is not requeueable (Requeue=0 or unknown)")
        for name in job.nodes:
            for partition in partitions_of.get(name, ()):
                touched.setdefault(partition, set()).add(name)
    sizes = {
        partition: sum(partition in node.partitions for node in cluster.nodes)
        for partition in touched
    }
    refusals += policy.blast_radius({p: (len(n), sizes[p]) for p, n in touched.items()})
    return refusals


def plan_rebalance(
    result: Result,
    cluster: SlurmCluster,
    policy: Policy,
    caps: Caps | None = None,
    heat: dict[str, NodeHeat] | None = None,
) -> Plan:
    """The one plan that carries out ``result`` on ``cluster`` (or says why it may not)."""
    caps = caps or Caps()
    acting = [m for m in result.moves if m.kind in REQUEUES]
    telling = [m for m in result.moves if m.kind not in REQUEUES]
    kept, left_out = _over_caps(acting, caps)
    refusals: list[str] = []
    warnings: list[str] = []
    if left_out and result.starts is not None:
        # A defrag is all or nothing: without every requeue the pending job cannot start.
        refusals += [
            f"{line} (the plan needs every requeue to start {result.starts})" for line in left_out
        ]
    else:
        warnings += [f"left for a later cycle: {line}" for line in left_out]
    # By the name Slurm acts on (``3_2`` for an array task), looked up once per plan.
    jobs: dict[str, SlurmJob] = {}
    for job in cluster.jobs:
        jobs.setdefault(job_label(job), job)
    refusals += _safety(kept, cluster, jobs, policy)
    ids = [m.workload for m in kept]
    hold = any(m.kind == "requeue-hold" for m in kept)
    command = tuple(commands.requeue(ids, hold)) if ids else ()
    then = tuple(
        tuple(commands.exclude_nodes(m.workload, list(m.exclude))) for m in kept if m.exclude
    )
    details = node_table(result.nodes, heat or {})
    details += [f"not moved: {why}" for why in result.refusals]
    details += [
        f"figure of merit: {MERIT_WORDS.get(key, key)} "
        + (f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}")
        for key, value in result.merit.items()
    ]
    impacts = [_impact(m, jobs) for m in (*kept, *telling)]
    targets = list(ids)
    before = {}
    for move in kept:
        moved = jobs.get(move.workload)
        before[move.workload] = str(moved.restarts or 0) if moved is not None else "0"
    if result.starts is not None and kept:
        targets.append(result.starts)
        waiting = jobs.get(result.starts)
        who = (
            f"job {result.starts} ({waiting.user or '?'}, {waiting.name or '?'}) "
            if waiting is not None
            else f"job {result.starts} "
        )
        impacts.append(
            Impact(
                result.starts,
                "PENDING",
                (who + "starts once the requeued jobs free their GPUs",),
            )
        )
        before[result.starts] = "pending"
    if not result.moves and not result.refusals:
        details.append("nothing to do: the cluster needs no rebalance under this policy")
    plan = Plan(
        action=f"rebalance-{result.policy}",
        scope=cluster.name,
        targets=tuple(targets or (m.workload for m in telling)),
        impacts=tuple(impacts),
        command=command,
        reason=f"policy {result.policy}",
        warnings=tuple(warnings),
        refusals=tuple(refusals),
        expect=_expect(result, bool(then), hold) if command else "",
        before=before,
        then=then,
        details=tuple(details),
    )
    caution = cluster_caution(cluster)
    return dataclasses.replace(plan, caution=caution) if caution else plan


def _expect(result: Result, excluded: bool, hold: bool) -> str:
    parts = ["each requeued job is back in the queue" + (" and held" if hold else "")]
    parts[0] += " or running elsewhere" if not hold else ""
    if excluded:
        parts.append("none runs on the node it left")
    if result.starts is not None:
        parts.append(f"job {result.starts} has started")
    return ", ".join(parts)


def verifier_for(
    result: Result,
) -> Callable[[Callable[[], Awaitable[SlurmCluster]]], RebalanceVerifier]:
    """What ``carry_out_on_slurm`` builds its verification from, for this result."""
    return lambda read: RebalanceVerifier(read, result)
