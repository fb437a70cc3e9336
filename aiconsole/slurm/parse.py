"""Parsers for the text Slurm's clients print with the explicit formats in :mod:`commands`.

Explicit ``-O`` formats are stable across releases and much faster than ``--json`` on big
clusters. Each field ends in ``|``; the free-text field (a node's reason, a job's name) is the
last one, so a ``|`` inside it cannot shift the others. Slurm takes any job name, newlines
included, so a name could end one line and forge the next: the last field's suffix is a
marker chosen afresh for every call (``end``), and records are split on it, not on newlines.
A record that does not parse is skipped and counted, never fatal: one odd node must not hide
the rest. No text makes these parsers raise.
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
    "ArrayTaskID",
    "UserName",
    "State",
    "Reason",
    "Partition",
    "NodeList",
    "StartTime",
    "TimeUsed",
    "TimeLimit",
    "RestartCnt",
    "tres-per-node",
    "Name",
)
BUSY_STATES = frozenset({"allocated", "mixed", "completing"})
UNSET = frozenset({"", "n/a", "N/A", "(null)", "Unknown", "none", "None"})


def _split(line: str, count: int, marked: bool) -> list[str] | None:
    if not marked:
        line = line.rstrip("\n")
        if line.endswith("|"):
            line = line[:-1]
    parts = line.split("|", count - 1)
    return parts if len(parts) == count else None


def records(text: str, end: str | None) -> list[str]:
    """The records of ``text``: lines, or (with ``end``) the pieces each ending in ``|end``."""
    if end is None:
        return [line for line in text.splitlines() if line.strip()]
    pieces = text.split(f"|{end}")
    found = [piece[1:] if piece.startswith("\n") else piece for piece in pieces[:-1]]
    if pieces[-1].strip():
        found.append(pieces[-1])  # unterminated: it cannot parse as one, so it is counted
    return found


def _text(value: str) -> str | None:
    value = value.strip()
    return None if value in UNSET else value


_DIGITS = re.compile(r"[0-9]{1,18}")
"""ASCII digits only: ``str.isdigit`` and ``int`` also take ``²`` or Arabic-Indic digits."""


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if _DIGITS.fullmatch(value) else None


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


# sinfo's one-character state suffixes (``idle~``, ``drain$``, ``down*``), as flags.
SUFFIX_FLAGS = {
    "*": "NOT_RESPONDING",
    "~": "POWERED_DOWN",
    "#": "POWERING_UP",
    "!": "POWER_DOWN_PENDING",
    "%": "POWERING_DOWN",
    "$": "MAINT",
    "@": "REBOOT_REQUESTED",
    "^": "REBOOT_ISSUED",
    "-": "PLANNED",
}
# Drain spelled as a base state (sinfo's short and long forms) -> (base state, busy or not).
DRAIN_STATES = {"drain": "idle", "drained": "idle", "drng": "mixed", "draining": "mixed"}


def parse_state(text: str) -> tuple[str, tuple[str, ...]]:
    """``mixed+drain``, ``idle~``, ``down*+drain``, ``drng@`` -> (base state, FLAGS)."""
    flags: list[str] = []
    words = [word for word in text.strip().split("+") if word]
    base = ""
    for number, word in enumerate(words):
        stripped = word.rstrip("".join(SUFFIX_FLAGS))
        for char in word[len(stripped) :]:
            flags.append(SUFFIX_FLAGS[char])
        if number == 0:
            base = stripped.lower()
        elif stripped:
            flags.append(stripped.upper())
    if base in DRAIN_STATES:
        base = DRAIN_STATES[base]
        flags.append("DRAIN")
    unique = tuple(dict.fromkeys(flags))
    return base or "unknown", unique


def node_summary(state: str, flags: tuple[str, ...]) -> str:
    text = state
    if "DRAIN" in flags:
        text = "draining" if state in BUSY_STATES else "drained"
    if "NOT_RESPONDING" in flags:
        text += "*"
    return text


def parse_nodes(text: str, end: str | None = None) -> tuple[list[SlurmNode], int]:
    """``sinfo -h -N -O <NODE_FIELDS, each with a | suffix>``; (nodes, lines skipped).

    sinfo prints a node once per partition; those lines are merged.
    """
    nodes: dict[str, SlurmNode] = {}
    skipped = 0
    for line in records(text, end):
        parts = _split(line, len(NODE_FIELDS), end is not None)
        if parts is None:
            skipped += 1
            continue
        name, state_text, cpus, memory, gres, gres_used, partition, user, stamp, reason = parts
        name = name.strip()
        if not name:
            skipped += 1
            continue
        state, flags = parse_state(state_text)
        cpu_parts = cpus.split("/")
        partition_name = partition.strip().rstrip("*")
        if name in nodes:
            known = nodes[name]
            if partition_name and partition_name not in known.partitions:
                nodes[name] = msgspec.structs.replace(
                    known, partitions=(*known.partitions, partition_name)
                )
            continue
        nodes[name] = SlurmNode(
            name=name,
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
    """Slurm durations: ``M``, ``M:SS``, ``H:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``;
    None for UNLIMITED or anything else."""
    text = text.strip()
    if not text or text in ("UNLIMITED", "INVALID", "NOT_SET") or text in UNSET:
        return None
    days = None
    if "-" in text:
        day_text, text = text.split("-", 1)
        days = _int(day_text)
        if days is None:
            return None
    pieces = [_int(piece) for piece in text.split(":")]
    if not 1 <= len(pieces) <= 3 or any(piece is None for piece in pieces):
        return None
    values = [piece for piece in pieces if piece is not None]
    if days is not None:
        # After a day count the first number is hours: D-HH, D-HH:MM, D-HH:MM:SS.
        values += [0] * (3 - len(values))
        hours, minutes, seconds = values
        return days * 86400 + hours * 3600 + minutes * 60 + seconds
    if len(values) == 1:
        return values[0] * 60  # a bare number is minutes in Slurm's time formats
    if len(values) == 2:
        return values[0] * 60 + values[1]  # M:SS
    hours, minutes, seconds = values
    return hours * 3600 + minutes * 60 + seconds


def parse_jobs(text: str, end: str | None = None) -> tuple[list[SlurmJob], int]:
    """``squeue -h -O <JOB_FIELDS, each with a | suffix>``; (jobs, lines skipped)."""
    jobs = []
    skipped = 0
    for line in records(text, end):
        parts = _split(line, len(JOB_FIELDS), end is not None)
        if parts is None or _int(parts[0]) is None:
            skipped += 1
            continue
        job_id, array_id, task_id, user, state, reason, partition, nodelist = parts[:8]
        start, used, limit, restarts, tres, name = parts[8:]
        # An array task's own id is not its name: task 3_2 may have JobID 3, the array's id,
        # and "scontrol requeue 3" would then take every task of array 3.
        task = _text(task_id)
        array = _text(array_id) if task is not None else None
        try:
            nodes = tuple(expand(nodelist.strip())) if _text(nodelist) else ()
        except (NodeSetError, RecursionError, MemoryError):
            nodes = ()
        jobs.append(
            SlurmJob(
                job_id=job_id.strip(),
                array_job_id=array,
                array_task_id=task if array is not None else None,
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
                restarts=_int(restarts),
            )
        )
    return jobs, skipped


# In ``scontrol show job -d -o`` the per-node allocation (``Nodes=... CPU_IDs=... Mem=...
# GRES=gpu:2(IDX:0-1)``) sits between JOB_GRES and MinCPUsNode. Free text the job's owner
# chooses (JobName before it; Command, WorkDir, Comment, StdOut, ... after it) may hold
# anything, "Nodes=gpu07 GRES=..." or "JobId=1234" included, so the line is cut by position:
# the id from before JobName, the allocation from after the name, up to MinCPUsNode.
_ALLOCATION = re.compile(r" Nodes=(\S+) CPU_IDs=\S* Mem=\S* GRES=(\S*)")
_HEAD = re.compile(
    r"JobId=([0-9]+)(?: (?:ArrayJobId|ArrayTaskId|HetJobId|HetJobOffset|HetJobIdSet)=\S+)*"
    r" JobName="
)


def _job_lines(text: str) -> list[str]:
    """One string per ``JobId=`` line; a line that does not start so continues the one
    before (a job name or path with a newline in it)."""
    found: list[str] = []
    for line in text.split("\n"):
        if line.startswith("JobId=") or not found:
            found.append(line)
        else:
            found[-1] += "\n" + line
    return found


def parse_job_details(text: str, names: dict[str, str]) -> dict[str, dict[str, tuple[int, ...]]]:
    """``scontrol show job -d -o``: job id -> node -> GPU indices it holds there.

    ``names``: job id -> job name as squeue printed it; it says where the name ends. A job
    whose line does not read as expected is left out (its GPU indices stay unknown), and so
    is a job with two lines: one of them was forged by a name with a newline in it.
    """
    details: dict[str, dict[str, tuple[int, ...]]] = {}
    for job_id, rest in job_lines_after_name(text, names):
        end = rest.find(" MinCPUsNode=")
        region = rest[: end if end >= 0 else len(rest)]
        start = region.find(" JOB_GRES=")
        if start < 0:
            continue
        gpus: dict[str, tuple[int, ...]] = {}
        for match in _ALLOCATION.finditer(region, start):
            try:
                nodes = expand(match.group(1))
            except (NodeSetError, RecursionError, MemoryError):
                continue
            indices = gpu_indices(match.group(2))
            for node in nodes:
                gpus.setdefault(node, indices)
        details[job_id] = gpus
    return details


def job_lines_after_name(text: str, names: dict[str, str]) -> list[tuple[str, str]]:
    """(job id, the rest of its line after the name) for every job of ``names`` whose line
    reads as expected; a job with two lines is left out: one was forged by a name with a
    newline in it."""
    found: dict[str, str] = {}
    twice: set[str] = set()
    for line in _job_lines(text):
        head = _HEAD.match(line)
        if head is None or head.group(1) not in names:
            continue
        job_id = head.group(1)
        if job_id in found:
            twice.add(job_id)
        rest = line[head.end() :]
        name = names[job_id]
        found[job_id] = rest[len(name) :] if rest.startswith(name + " UserId=") else ""
    return [(job_id, rest) for job_id, rest in found.items() if rest and job_id not in twice]


MAX_GPU_INDEX = 1023
"""No node has more GPUs than this; a larger index is not a GPU (and would cost memory)."""


def gpu_indices(gres: str) -> tuple[int, ...]:
    """``gpu:2(IDX:0-1)``, ``gpu:h100:3(IDX:0,2-3)`` -> (0, 1) and (0, 2, 3)."""
    found: set[int] = set()
    for match in re.finditer(r"gpu[^(,]*\(IDX:([0-9,\-]+)\)", gres):
        for piece in match.group(1).split(","):
            low_text, _, high_text = piece.partition("-")
            low = _int(low_text)
            high = _int(high_text) if high_text else low
            if low is None or high is None or high > MAX_GPU_INDEX or low > high:
                continue
            found.update(range(low, high + 1))
    return tuple(sorted(found))
