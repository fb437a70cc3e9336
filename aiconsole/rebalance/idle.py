"""Reclaim idle GPUs: jobs whose every GPU has sat at or below the idle threshold for the
idle time (the health rule ``gpu.idle_allocated`` says how long), with the GPU-hours wasted.

The default action is to tell (``notify``); ``requeue-hold`` gives the GPUs back and keeps the
job for its owner to release, and only for jobs Slurm may requeue.
"""

from __future__ import annotations

from aiconsole.model import FleetSnapshot, SlurmCluster
from aiconsole.rebalance.moves import Move, Result
from aiconsole.rebalance.placement import Cluster

ACTIONS = ("notify", "requeue-hold")


def plan_idle(
    snapshot: FleetSnapshot,
    cluster: SlurmCluster,
    now: float,
    action: str = "notify",
    max_moves: int = 8,
) -> Result:
    if action not in ACTIONS:
        raise ValueError(f"idle reclaim acts by {', '.join(ACTIONS)}, not {action!r}")
    idle_since: dict[str, dict[tuple[str, int], float]] = {}
    for finding in snapshot.findings:
        if finding.rule != "gpu.idle_allocated" or finding.subject.host is None:
            continue
        index = int(finding.subject.name or -1)
        for workload in finding.workloads:
            if workload.kind == "slurm_job" and workload.cluster == cluster.name:
                idle_since.setdefault(workload.id, {})[(finding.subject.host, index)] = (
                    finding.first_seen
                )
    state = Cluster.of(cluster)
    moves: list[Move] = []
    refusals: list[str] = []
    for job_id, gpus in sorted(idle_since.items()):
        job = state.jobs.get(job_id)
        if job is None or job.state != "RUNNING":
            continue
        if len(gpus) < job.gpus:
            continue  # some of its GPUs work: not an idle job
        since = max(gpus.values())
        hours = max(0.0, now - since) / 3600.0
        kind = action
        if action == "requeue-hold" and not job.requeueable:
            refusals.append(f"{job_id}: not requeueable (Requeue=0), notify its owner instead")
            kind = "notify"
        if kind != "notify" and len(moves) >= max_moves:
            refusals.append(f"{job_id}: over the cap of {max_moves} moves")
            kind = "notify"
        moves.append(
            Move(
                job_id,
                kind,
                ",".join(job.nodes),
                None,
                f"{job.gpus} GPU(s) idle for {hours * 60:.0f} min",
                job.gpus,
                job.user,
                cost_gpu_hours=0.0,
            )
        )
    wasted = {
        job_id: len(gpus) * max(0.0, now - max(gpus.values())) / 3600.0
        for job_id, gpus in idle_since.items()
        if any(m.workload == job_id for m in moves)
    }
    return Result(
        policy="idle",
        moves=tuple(moves),
        refusals=tuple(refusals),
        merit={
            "idle_jobs": float(len(moves)),
            "gpus_idle": float(sum(m.gpus for m in moves)),
            "gpu_hours_wasted": sum(wasted.values()),
            "gpus_freed": float(sum(m.gpus for m in moves if m.kind != "notify")),
        },
    )
