"""Slurm actions as plans: drain, resume, requeue, requeue-hold, release.

Each planner reads the cluster as it is now and says what the action will hit; names and
ids are validated (``commands.InvalidArgument``) before anything else happens.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.execute import Progress, Verifier, carry_out
from aiconsole.actions.plan import CommandMayHaveRun, Impact, Outcome, Plan, TargetResult
from aiconsole.actions.policy import Policy
from aiconsole.model import SlurmCluster, SlurmJob, SlurmNode
from aiconsole.slurm import commands
from aiconsole.slurm.reader import read_cluster
from aiconsole.slurm.runner import CommandOutcomeUnknown, Runner

HELD = ("JobHeldUser", "JobHeldAdmin")


def is_held(job: SlurmJob) -> bool:
    """Held jobs show JobHeldUser/JobHeldAdmin, or after requeuehold the state description
    ("job requeued in held state") in squeue's reason column."""
    return job.state == "PENDING" and (job.reason in HELD or "held" in (job.reason or "").lower())


def job_label(job: SlurmJob) -> str:
    if job.array_job_id and job.array_task_id:
        return f"{job.array_job_id}_{job.array_task_id}"
    return job.job_id


def find_job(cluster: SlurmCluster, name: str) -> SlurmJob | None:
    """The job Slurm calls ``name`` (``1234``, or ``3_2`` for an array task)."""
    return next((job for job in cluster.jobs if job_label(job) == name), None)


def resolve_job(cluster: SlurmCluster, given: str) -> tuple[SlurmJob | None, str | None]:
    """(the one job ``scontrol ... given`` would act on, or why it is not one job).

    Slurm reads a bare array id (``3``) as every task of array 3, even when ``3`` is also
    the JobID of task ``3_2``; the same task also has an id of its own (``4`` for ``3_1``).
    Tasks are acted on by their Slurm name, so a plan never touches more than it lists.
    """
    job = find_job(cluster, given)
    if job is not None:
        return job, None
    tasks = [job for job in cluster.jobs if job.array_job_id == given]
    if tasks:
        names = " ".join(sorted((job_label(job) for job in tasks), key=lambda n: (len(n), n)))
        return None, (
            f"job {given} is array {given} in cluster {cluster.name}: Slurm would act on "
            f"every task of it ({names}); name the tasks instead"
        )
    job = next((job for job in cluster.jobs if job.job_id == given), None)
    if job is not None:
        return job, None  # an array task given by its own JobID: acted on as ARRAY_TASK
    return None, f"no job {given} in cluster {cluster.name}"


def cluster_caution(cluster: SlurmCluster, now: float | None = None) -> str | None:
    """What to say before acting on a cluster whose reading is not fresh."""
    if cluster.status == "ok":
        return None
    age = (
        "never read"
        if cluster.collected_at is None
        else f"data from {(now or time.time()) - cluster.collected_at:.0f} s ago"
    )
    why = cluster.reason or "no reason given"
    return f"cluster {cluster.name} is {cluster.status} ({why}); {age}"


def _jobs_on(cluster: SlurmCluster, node: str) -> list[SlurmJob]:
    return [job for job in cluster.jobs if node in job.nodes and job.state == "RUNNING"]


def _gpus(job: SlurmJob, node: str) -> str:
    indices = job.gpu_indices.get(node)
    if not indices:
        return "no GPUs"
    return "GPU " + ",".join(str(i) for i in indices)


def _job_hit(job: SlurmJob, node: str | None = None) -> str:
    where = node or ",".join(job.nodes) or "no nodes"
    gpus = f", {_gpus(job, node)}" if node else ""
    return (
        f"job {job_label(job)} ({job.user or '?'}, {job.name or '?'}) {job.state} on {where}{gpus}"
    )


def _nodes(cluster: SlurmCluster, names: list[str]) -> tuple[dict[str, SlurmNode], list[str]]:
    known = {node.name: node for node in cluster.nodes}
    for name in names:
        commands.check_node(name)
    missing = [f"no node {name} in cluster {cluster.name}" for name in names if name not in known]
    return {name: known[name] for name in names if name in known}, missing


def plan_drain(cluster: SlurmCluster, names: list[str], reason: str, policy: Policy) -> Plan:
    reason = commands.check_reason(reason)
    found, refusals = _nodes(cluster, names)
    impacts, warnings = [], []
    taking_out: dict[str, list[str]] = {}
    for name, node in found.items():
        jobs = _jobs_on(cluster, name)
        hits = [f"{_job_hit(job, name)}: left to finish" for job in jobs]
        if "DRAIN" in node.flags:
            warnings.append(f"{name} is already {node.summary} (reason: {node.reason}): unchanged")
        else:
            for partition in node.partitions:
                taking_out.setdefault(partition, []).append(name)
        impacts.append(Impact(name, node.summary, tuple(hits)))
    sizes = {
        partition: sum(partition in node.partitions for node in cluster.nodes)
        for partition in taking_out
    }
    refusals += policy.blast_radius({p: (len(nodes), sizes[p]) for p, nodes in taking_out.items()})
    return Plan(
        action="drain",
        scope=cluster.name,
        targets=tuple(names),
        impacts=tuple(impacts),
        command=tuple(commands.drain(names, reason)),
        reason=reason,
        warnings=tuple(warnings),
        refusals=tuple(refusals),
        expect="each node shows DRAIN (draining while jobs run, then drained)",
    )


def plan_resume(cluster: SlurmCluster, names: list[str], policy: Policy) -> Plan:
    found, refusals = _nodes(cluster, names)
    impacts, warnings = [], []
    for name, node in found.items():
        if "DRAIN" not in node.flags and node.state != "down":
            warnings.append(f"{name} is {node.summary}, not drained or down: unchanged")
        hits = [f"reason cleared: {node.reason}"] if node.reason else []
        impacts.append(Impact(name, node.summary, tuple(hits)))
    return Plan(
        action="resume",
        scope=cluster.name,
        targets=tuple(names),
        impacts=tuple(impacts),
        command=tuple(commands.resume(names)),
        warnings=tuple(warnings),
        refusals=tuple(refusals),
        expect="every node is in service: not drained, not down, responding",
    )


def _jobs(cluster: SlurmCluster, ids: list[str]) -> tuple[dict[str, SlurmJob], list[str]]:
    """Slurm name -> job for each id given (array tasks by ARRAY_TASK), and refusals."""
    for job_id in ids:
        commands.check_job(job_id)
    found: dict[str, SlurmJob] = {}
    refusals: list[str] = []
    for given in ids:
        job, problem = resolve_job(cluster, given)
        if job is None:
            refusals.append(problem or f"no job {given} in cluster {cluster.name}")
        else:
            found.setdefault(job_label(job), job)
    return found, refusals


def plan_requeue(cluster: SlurmCluster, ids: list[str], hold: bool, policy: Policy) -> Plan:
    found, refusals = _jobs(cluster, ids)
    impacts, warnings, before = [], [], {}
    for job_id, job in found.items():
        restarts = job.restarts or 0
        before[job_id] = str(restarts)
        hits = [
            f"{_job_hit(job)}: killed and put back in the queue "
            f"(restarts {restarts} -> {restarts + 1})" + (", held until released" if hold else "")
        ]
        hits += [
            f"frees {_gpus(job, node)} on {node}" for node in job.nodes if job.gpu_indices.get(node)
        ]
        if job.state not in ("RUNNING", "SUSPENDED"):
            warnings.append(f"job {job_id} is {job.state}: Slurm may refuse to requeue it")
        impacts.append(Impact(job_id, job.state, tuple(hits)))
    targets = list(found) or ids
    return Plan(
        action="requeue-hold" if hold else "requeue",
        scope=cluster.name,
        targets=tuple(targets),
        impacts=tuple(impacts),
        command=tuple(commands.requeue(targets, hold)),
        warnings=tuple(warnings),
        refusals=tuple(refusals),
        expect="each job is back in the queue with one more restart"
        + (" and held" if hold else ""),
        before=before,
    )


def plan_release(cluster: SlurmCluster, ids: list[str], policy: Policy) -> Plan:
    found, refusals = _jobs(cluster, ids)
    impacts, warnings = [], []
    for job_id, job in found.items():
        if not is_held(job):
            warnings.append(f"job {job_id} is not held ({job.state}, {job.reason}): unchanged")
        impacts.append(Impact(job_id, f"{job.state} {job.reason or ''}".strip(), (_job_hit(job),)))
    targets = list(found) or ids
    return Plan(
        action="release",
        scope=cluster.name,
        targets=tuple(targets),
        impacts=tuple(impacts),
        command=tuple(commands.release(targets)),
        warnings=tuple(warnings),
        refusals=tuple(refusals),
        expect="no job is held",
    )


class SlurmVerifier:
    """Re-reads the cluster and checks each target against what the plan expects."""

    def __init__(self, read: Callable[[], Awaitable[SlurmCluster]]) -> None:
        self._read = read

    async def check(self, plan: Plan) -> list[TargetResult]:
        cluster = await self._read()
        if cluster.status not in ("ok",):
            raise RuntimeError(cluster.reason or f"cluster {cluster.name} not readable")
        return [self._one(cluster, plan, target) for target in plan.targets]

    def _one(self, cluster: SlurmCluster, plan: Plan, target: str) -> TargetResult:
        if plan.action in ("drain", "resume"):
            node = next((n for n in cluster.nodes if n.name == target), None)
            if node is None:
                return TargetResult(target, False, "missing", "node no longer listed")
            drained = "DRAIN" in node.flags
            # Back in service means schedulable: not drained, not down, and answering.
            in_service = not drained and node.state != "down" and "NOT_RESPONDING" not in node.flags
            ok = drained if plan.action == "drain" else in_service
            return TargetResult(target, ok, node.summary)
        job = find_job(cluster, target)
        if job is None:
            return TargetResult(target, False, "missing", "job no longer listed")
        state = f"{job.state} {job.reason or ''}".strip()
        if plan.action == "release":
            return TargetResult(target, not is_held(job), state)
        before = int(plan.before.get(target, "0"))
        requeued = (job.restarts or 0) > before and job.state != "COMPLETING"
        if plan.action == "requeue-hold":
            requeued = requeued and is_held(job)
        return TargetResult(target, requeued, f"{state}, restarts {job.restarts}")


def plan_action(
    cluster: SlurmCluster,
    action: str,
    targets: list[str],
    policy: Policy,
    reason: str | None = None,
) -> Plan:
    """The plan for ``action`` by name (as the CLI's commands and the TUI's keys say it).

    A plan made from a reading that is not fresh (``stale``) says so, with the data's age.
    """
    if action == "drain":
        plan = plan_drain(cluster, targets, reason or "", policy)
    elif action in ("resume", "undrain"):
        plan = plan_resume(cluster, targets, policy)
    elif action in ("requeue", "requeue-hold"):
        plan = plan_requeue(cluster, targets, action == "requeue-hold", policy)
    elif action == "release":
        plan = plan_release(cluster, targets, policy)
    else:
        raise ValueError(f"unknown Slurm action {action!r}")
    caution = cluster_caution(cluster)
    return dataclasses.replace(plan, caution=caution) if caution else plan


VerifierFactory = Callable[[Callable[[], Awaitable[SlurmCluster]]], Verifier]
"""Makes a plan's verification from a way to re-read the cluster."""


async def carry_out_on_slurm(
    plan: Plan,
    runner: Runner,
    timeout: float,
    *,
    policy: Policy,
    audit: AuditLog,
    progress: Progress = lambda _line: None,
    verify_timeout: float = 60.0,
    verifier: VerifierFactory | None = None,
) -> Outcome:
    """Run a confirmed plan's command through ``runner`` and verify by re-reading the cluster
    (``verifier``: made from the re-reading; the target-by-target check by default)."""

    async def run(argv: list[str]) -> tuple[bool, str]:
        try:
            result = await runner.run(argv, timeout)
        except CommandOutcomeUnknown as error:
            raise CommandMayHaveRun(str(error)) from None
        return result.status == 0, result.error_line()

    async def read() -> SlurmCluster:
        return await read_cluster(plan.scope, runner, timeout)

    return await carry_out(
        plan,
        policy=policy,
        audit=audit,
        run=run,
        verifier=(verifier or SlurmVerifier)(read),
        progress=progress,
        verify_timeout=verify_timeout,
    )
