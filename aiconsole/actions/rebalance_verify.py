"""Whether a carried-out rebalance did what its plan said, seen by re-reading the cluster.

A requeued job counts once Slurm shows one more restart and the job is pending (or held, for
requeue-hold) or running on a node it was not told to leave; the pending job a defrag plan
names counts once it runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiconsole.actions.plan import Plan, TargetResult
from aiconsole.actions.slurm import find_job, is_held
from aiconsole.model import SlurmCluster
from aiconsole.rebalance.moves import Result

STARTED = frozenset({"RUNNING", "COMPLETING", "COMPLETED"})


class RebalanceVerifier:
    def __init__(self, read: Callable[[], Awaitable[SlurmCluster]], result: Result) -> None:
        self._read = read
        self._moves = {move.workload: move for move in result.moves}
        self._starts = result.starts

    async def check(self, plan: Plan) -> list[TargetResult]:
        cluster = await self._read()
        if cluster.status != "ok":
            raise RuntimeError(cluster.reason or f"cluster {cluster.name} not readable")
        return [self._one(cluster, plan, target) for target in plan.targets]

    def _one(self, cluster: SlurmCluster, plan: Plan, target: str) -> TargetResult:
        job = find_job(cluster, target)
        if job is None:
            return TargetResult(target, False, "missing", "job no longer listed")
        where = f" on {','.join(job.nodes)}" if job.nodes else ""
        state = f"{job.state} {job.reason or ''}".strip() + where
        if target == self._starts:
            return TargetResult(target, job.state in STARTED, state)
        move = self._moves.get(target)
        requeued = (job.restarts or 0) > int(plan.before.get(target, "0"))
        if move is not None and move.kind == "requeue-hold":
            return TargetResult(target, requeued and is_held(job), state)
        if job.state == "PENDING":
            return TargetResult(target, requeued, state)
        if job.state == "RUNNING":
            back = [n for n in job.nodes if move is not None and n in move.exclude]
            if back:
                return TargetResult(target, False, state, f"back on {','.join(back)}")
            return TargetResult(target, requeued, state)
        return TargetResult(target, False, state)
