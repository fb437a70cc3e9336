"""Every Slurm command aiconsole runs, built as an argument list from validated values.

Nothing here is ever interpolated into a shell string by us: locally the list is exec'd;
over SSH each word is quoted (``shlex.join``) for the remote shell, so a node name, job id or
reason can only ever be one argument, whatever characters it holds.
"""

from __future__ import annotations

import re

from aiconsole.slurm.parse import JOB_FIELDS, NODE_FIELDS
from aiconsole.text import is_clean

JOB_ID = re.compile(r"^[0-9]{1,10}(_[0-9]{1,10})?$")
NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
# Where Slurm's commands run: "local", or an SSH host or ssh-config alias (user@ allowed).
# Never starting with "-", so it cannot read as an option to anything.
HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,252}")
MAX_REASON = 200


class InvalidArgument(ValueError):
    """A node name, job id or reason that Slurm must never see."""


def check_node(name: str) -> str:
    if not NODE_NAME.fullmatch(name):
        raise InvalidArgument(f"invalid node name {name!r}: letters, digits, '.', '-', '_' only")
    return name


def check_job(job_id: str) -> str:
    if not JOB_ID.fullmatch(job_id):
        raise InvalidArgument(f"invalid job id {job_id!r}: a number, or ARRAY_TASK like 12_3")
    return job_id


def check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidArgument("a reason is required (it is what the next person on call reads)")
    if len(reason) > MAX_REASON:
        raise InvalidArgument(f"reason is longer than {MAX_REASON} characters")
    if not is_clean(reason):
        # C0/C1 controls and bidi overrides would drive or reorder the terminal of whoever
        # reads the reason later (sinfo -R, this console).
        raise InvalidArgument(
            "reason contains control characters (newline, tab, escape, bidi override, ...)"
        )
    return reason


def check_host(where: str) -> str:
    """``local`` or an SSH host name/alias; anything else (``-oProxyCommand=...``) refused."""
    if not HOST.fullmatch(where):
        raise InvalidArgument(
            f"invalid Slurm host {where!r}: 'local', or a host name or ssh alias "
            "(letters, digits, '.', '-', '_', '@'; not starting with '-')"
        )
    return where


def _format(fields: tuple[str, ...], end: str) -> str:
    """Every field followed by ``|``; the last (free text) by ``|`` and the record marker."""
    if not re.fullmatch(r"[a-z][a-z0-9]{7,63}", end):
        raise InvalidArgument(f"invalid record marker {end!r}")
    return ",".join(f"{field}:|" for field in fields) + end


def list_nodes(end: str) -> list[str]:
    return ["sinfo", "--noheader", "--Node", "--Format", _format(NODE_FIELDS, end)]


def list_jobs(end: str) -> list[str]:
    # --array: one line per array task, pending ones too, so every task has its own name.
    return ["squeue", "--noheader", "--all", "--array", "--Format", _format(JOB_FIELDS, end)]


def job_details() -> list[str]:
    return ["scontrol", "--details", "--oneliner", "show", "job"]


def show_job(job_id: str) -> list[str]:
    """One job, one field per line (the one-line form runs paths with spaces together)."""
    return ["scontrol", "show", "job", check_job(job_id)]


def ping() -> list[str]:
    return ["scontrol", "ping"]


def drain(nodes: list[str], reason: str) -> list[str]:
    names = ",".join(check_node(node) for node in nodes)
    return [
        "scontrol",
        "update",
        f"NodeName={names}",
        "State=DRAIN",
        f"Reason={check_reason(reason)}",
    ]


def resume(nodes: list[str]) -> list[str]:
    names = ",".join(check_node(node) for node in nodes)
    return ["scontrol", "update", f"NodeName={names}", "State=RESUME"]


def requeue(job_ids: list[str], hold: bool = False) -> list[str]:
    ids = ",".join(check_job(job) for job in job_ids)
    return ["scontrol", "requeuehold" if hold else "requeue", ids]


def release(job_ids: list[str]) -> list[str]:
    return ["scontrol", "release", ",".join(check_job(job) for job in job_ids)]


def exclude_nodes(job_id: str, nodes: list[str]) -> list[str]:
    """Keep a pending job off ``nodes`` (Slurm refuses this for a running job)."""
    names = ",".join(check_node(node) for node in nodes)
    return ["scontrol", "update", f"JobId={check_job(job_id)}", f"ExcNodeList={names}"]
