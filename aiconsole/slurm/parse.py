"""Parsers for the text Slurm's clients print with the explicit formats in :mod:`commands`.

Explicit ``-O`` formats are stable across releases and much faster than ``--json`` on big
clusters. Each field ends in ``|``; the free-text field (a node's reason, a job's name) is the
last one, so a ``|`` inside it cannot shift the others. A line that does not parse is skipped
and counted, never fatal: one odd node must not hide the rest.
"""

from __future__ import annotations

import re

import msgspec

from aiconsole.model import SlurmJob, SlurmNode
from aiconsole.nodeset import NodeSetError, expand

NODE_FIELDS = (
    "NodeList",
    "StateComplete",
    "CPUsState",
    "Memory",
    "Gres",
    "GresUsed",
    "Partition",
    "User",
    "Timestamp",
    "Reason",
)
JOB_FIELDS = (
    "JobID",
    "ArrayJobID",
    "UserName",
    "State",
    "Reason",
    "Partition",
    "NodeList",
    "StartTime",
    "TimeUsed",
    "TimeLimit",
    "tres-per-node",
    "Name",
)
BUSY_STATES = frozenset({"allocated", "mixed", "completing"})
UNSET = frozenset({"", "n/a", "N/A", "(null)", "Unknown", "none", "None"})


def _split(line: str, count: int) -> list[str] | None:
    line = line.rstrip("\n")
    if line.endswith("|"):
        line = line[:-1]
    parts = line.split("|", count - 1)
    return parts if len(parts) == count else None


def _text(value: str) -> str | None:
    value = value.strip()
    return None if value in UNSET else value


def _int(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


def gpu_count(gres: str) -> int | None:
    """GPUs in a GRES string: ``gpu:4``, ``gpu:h100:8(S:0-1)``, ``gpu:2,shard:4`` -> 4, 8, 2."""
    total = None
    for item in gres.split(","):
        item = re.sub(r"\(.*?\)", "", item.strip())
        parts = item.split(":")
        if parts[0] not in ("gpu", "gres/gpu"):
            continue
        count = _int(parts[-1])
        if count is not None:
            total = (total or 0) + count
    return total


def node_summary(state: str, flags: tuple[str, ...]) -> str:
    text = state
    if "DRAIN" in flags:
        text = "draining" if state in BUSY_STATES else "drained"
    if "NOT_RESPONDING" in flags:
        text += "*"
    return text


def parse_nodes(text: str) -> tuple[list[SlurmNode], int]:
    """``sinfo -h -N -O <NODE_FIELDS, each with a | suffix>``; (nodes, lines skipped).

    sinfo prints a node once per partition; those lines are merged.
    """
    nodes: dict[str, SlurmNode] = {}
    skipped = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = _split(line, len(NODE_FIELDS))
        if parts is None:
            skipped += 1
            continue
        name, state_text, cpus, memory, gres, gres_used, partition, user, stamp, reason = parts
        # sinfo marks a node that does not respond with "*" (on the state or a flag).
        words = [word.rstrip("*~#!%$@^-") for word in state_text.strip().split("+")]
        state = words[0].lower()
        flags = tuple(word.upper() for word in words[1:])
        if "*" in state_text and "NOT_RESPONDING" not in flags:
            flags += ("NOT_RESPONDING",)
        cpu_parts = cpus.split("/")
        partition_name = partition.strip().rstrip("*")
        if name in nodes:
            known = nodes[name]
            nodes[name] = msgspec.structs.replace(
                known, partitions=(*known.partitions, partition_name)
            )
            continue
        nodes[name] = SlurmNode(
            name=name.strip(),
            state=state,
            flags=flags,
            summary=node_summary(state, flags),
            reason=_text(reason),
            reason_user=_text(user),
            reason_time=_text(stamp),
            cpus_allocated=_int(cpu_parts[0]) if len(cpu_parts) == 4 else None,
            cpus_total=_int(cpu_parts[3]) if len(cpu_parts) == 4 else None,
            memory_mb=_int(memory),
            gpus_total=gpu_count(gres),
            gpus_used=gpu_count(gres_used),
            partitions=(partition_name,) if partition_name else (),
        )
    return list(nodes.values()), skipped


def duration_s(text: str) -> int | None:
    """Slurm durations: ``M:SS``, ``H:MM:SS``, ``D-HH:MM:SS``; None for UNLIMITED/unknown."""
    text = text.strip()
    if not text or text in ("UNLIMITED", "INVALID", "NOT_SET") or text in UNSET:
        return None
    days = 0
    if "-" in text:
        day_text, text = text.split("-", 1)
        if not day_text.isdigit():
            return None
        days = int(day_text)
    pieces = text.split(":")
    if not all(piece.isdigit() for piece in pieces) or not 1 <= len(pieces) <= 3:
        return None
    seconds = 0
    for piece in pieces:
        seconds = seconds * 60 + int(piece)
    if len(pieces) == 1:
        seconds *= 60  # a bare number is minutes in Slurm's time formats
    return days * 86400 + seconds


def parse_jobs(text: str) -> tuple[list[SlurmJob], int]:
    """``squeue -h -O <JOB_FIELDS, each with a | suffix>``; (jobs, lines skipped)."""
    jobs = []
    skipped = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = _split(line, len(JOB_FIELDS))
        if parts is None or not parts[0].strip():
            skipped += 1
            continue
        job_id, array_id, user, state, reason, partition, nodelist, start, used, limit = parts[:10]
        tres, name = parts[10], parts[11]
        try:
            nodes = tuple(expand(nodelist.strip())) if _text(nodelist) else ()
        except NodeSetError:
            nodes = ()
        jobs.append(
            SlurmJob(
                job_id=job_id.strip(),
                array_job_id=_text(array_id) if array_id.strip() != job_id.strip() else None,
                name=name if name else None,
                user=_text(user),
                state=state.strip(),
                reason=_text(reason),
                partition=_text(partition),
                nodes=nodes,
                gpus_per_node=gpu_count(tres.replace("gres:", "").replace("gres/", "")),
                start_time=_text(start),
                time_used_s=duration_s(used),
                time_limit_s=duration_s(limit),
            )
        )
    return jobs, skipped


_KEY = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9_:/]*)=")


def parse_job_details(
    text: str,
) -> dict[str, tuple[int | None, str | None, dict[str, tuple[int, ...]]]]:
    """``scontrol show job -d -o``: job id -> (restarts, array task id, node -> GPU indices)."""
    details: dict[str, tuple[int | None, str | None, dict[str, tuple[int, ...]]]] = {}
    for line in text.splitlines():
        if not line.startswith("JobId="):
            continue
        fields = list(_KEY.finditer(line))
        job_id = None
        restarts = None
        task = None
        gpus: dict[str, tuple[int, ...]] = {}
        nodes: list[str] = []
        for number, match in enumerate(fields):
            end = fields[number + 1].start() if number + 1 < len(fields) else len(line)
            key, value = match.group(1), line[match.end() : end].strip()
            if key == "JobId":
                job_id = value
            elif key == "Restarts":
                restarts = _int(value)
            elif key == "ArrayTaskId":
                task = value
            elif key == "Nodes":
                try:
                    nodes = expand(value)
                except NodeSetError:
                    nodes = []
            elif key == "GRES" and nodes:
                indices = gpu_indices(value)
                for node in nodes:
                    gpus[node] = indices
        if job_id:
            details[job_id] = (restarts, task, gpus)
    return details


def gpu_indices(gres: str) -> tuple[int, ...]:
    """``gpu:2(IDX:0-1)``, ``gpu:h100:3(IDX:0,2-3)`` -> (0, 1) and (0, 2, 3)."""
    found: list[int] = []
    for match in re.finditer(r"gpu[^(,]*\(IDX:([0-9,\-]+)\)", gres):
        for piece in match.group(1).split(","):
            if "-" in piece:
                low, high = piece.split("-", 1)
                if low.isdigit() and high.isdigit():
                    found.extend(range(int(low), int(high) + 1))
            elif piece.isdigit():
                found.append(int(piece))
    return tuple(found)
