"""What planning a rebalance needs of each job beyond squeue's listing: its priority, whether
Slurm may requeue it (``Requeue=1``) and how many nodes it asks for (``NumNodes``).

They come from the ``scontrol show job -d -o`` listing the GPU indices are read from. The line
is read from just after the job's name (its end known from squeue's name for the job), where
Slurm prints these fields in a fixed order; a field that appears twice there, as text that
poses as one would make it, leaves the fact unknown, and an unknown ``Requeue`` counts as no.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiconsole.slurm.parse import job_lines_after_name


@dataclass(frozen=True)
class JobFacts:
    priority: int | None = None
    requeueable: bool | None = None
    nodes_requested: int | None = None


# Nothing chosen by a job's owner sits between the name and Priority: anchored there.
_PRIORITY = re.compile(r" UserId=\S+ GroupId=\S+ MCS_label=\S+ Priority=([0-9]{1,20}) ")
_REQUEUE = re.compile(r" Requeue=([01]) Restarts=[0-9]+ BatchFlag=")
# A pending job may print a range (NumNodes=2-4): the lower bound is what it needs.
_NUM_NODES = re.compile(r" NumNodes=([0-9]{1,9})(?:-[0-9]{1,9})? NumCPUs=")


def _once(pattern: re.Pattern[str], region: str) -> str | None:
    found = pattern.findall(region)
    return found[0] if len(found) == 1 else None


def parse_job_facts(text: str, names: dict[str, str]) -> dict[str, JobFacts]:
    """``scontrol show job -d -o``: job id -> its priority, Requeue flag and node count.

    ``names``: job id -> job name as squeue printed it (where the name ends).
    """
    facts: dict[str, JobFacts] = {}
    for job_id, rest in job_lines_after_name(text, names):
        # The fixed fields end before the allocation and MinCPUsNode; the owner's free text
        # (Command, WorkDir, Comment, ...) comes after, so it is cut off first.
        end = rest.find(" MinCPUsNode=")
        region = rest[: end if end >= 0 else len(rest)]
        priority = _PRIORITY.match(region)
        requeue = _once(_REQUEUE, region)
        nodes = _once(_NUM_NODES, region)
        facts[job_id] = JobFacts(
            priority=int(priority.group(1)) if priority else None,
            requeueable=None if requeue is None else requeue == "1",
            nodes_requested=int(nodes) if nodes is not None else None,
        )
    return facts
