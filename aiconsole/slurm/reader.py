"""One reading of a Slurm cluster: nodes, jobs, and which GPUs each running job holds."""

from __future__ import annotations

import asyncio
import secrets
import time

import msgspec

from aiconsole.model import SlurmCluster, SlurmJob
from aiconsole.slurm import commands
from aiconsole.slurm.job_facts import JobFacts, parse_job_facts
from aiconsole.slurm.parse import parse_job_details, parse_jobs, parse_nodes
from aiconsole.slurm.runner import CommandFailed, Runner


class SlurmUnavailable(Exception):
    """The cluster could not be read; the message is one line saying what and where."""


async def read_cluster(name: str, runner: Runner, timeout: float) -> SlurmCluster:
    """Run the three listing commands at once; each must answer within ``timeout``."""

    async def run(argv: list[str]) -> str:
        try:
            result = await runner.run(argv, timeout)
        except CommandFailed as error:
            raise SlurmUnavailable(f"{name}: {error}") from None
        if result.status != 0:
            raise SlurmUnavailable(f"{name}: {argv[0]} on {runner.where}: {result.error_line()}")
        return result.stdout

    # A fresh marker ends each record: no job name chosen before this call can contain it.
    end = "e" + secrets.token_hex(8)
    nodes_text, jobs_text, details_text = await asyncio.gather(
        run(commands.list_nodes(end)), run(commands.list_jobs(end)), run(commands.job_details())
    )
    try:
        return cluster_from(name, nodes_text, jobs_text, details_text, end)
    except (ValueError, RecursionError, MemoryError) as error:
        # The parsers skip what they do not understand; this is the net under a bug in them.
        raise SlurmUnavailable(
            f"{name}: Slurm output not understood: {type(error).__name__}: {error}"[:500]
        ) from None


def cluster_from(
    name: str, nodes_text: str, jobs_text: str, details_text: str, end: str | None = None
) -> SlurmCluster:
    """The cluster as the three listings (sinfo, squeue, scontrol show job -d) describe it;
    ``end``: the record marker the sinfo and squeue listings were asked for (None: lines)."""
    nodes, bad_nodes = parse_nodes(nodes_text, end)
    jobs, bad_jobs = parse_jobs(jobs_text, end)
    names = {job.job_id: job.name or "" for job in jobs}
    details = parse_job_details(details_text, names)
    facts = parse_job_facts(details_text, names)
    jobs = [
        with_facts(with_details(job, details.get(job.job_id)), facts.get(job.job_id))
        for job in jobs
    ]
    skipped = bad_nodes + bad_jobs
    return SlurmCluster(
        name=name,
        status="ok",
        reason=f"{skipped} lines of Slurm output not understood" if skipped else None,
        collected_at=time.time(),
        nodes=tuple(nodes),
        jobs=tuple(jobs),
    )


def with_details(job: SlurmJob, gpus: dict[str, tuple[int, ...]] | None) -> SlurmJob:
    """The job with the GPU indices it holds on each of its nodes (only its own nodes)."""
    if not gpus:
        return job
    own = {node: indices for node, indices in gpus.items() if node in job.nodes}
    return msgspec.structs.replace(job, gpu_indices=own)


def with_facts(job: SlurmJob, facts: JobFacts | None) -> SlurmJob:
    """The job with its priority, Requeue flag and node count (unknown stays None)."""
    if facts is None:
        return job
    return msgspec.structs.replace(
        job,
        priority=facts.priority,
        requeueable=facts.requeueable,
        nodes_requested=facts.nodes_requested,
    )
