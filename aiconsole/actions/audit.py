"""The audit log: one JSON object per line, appended and fsynced, never rewritten.

Each action writes its intent before anything runs and its outcome after, under one id, so
an action that died half-way still shows up (an intent without an outcome). A record that
cannot be written whole stops the action: an action nobody can trace must not run.

Each record also goes to syslog (``/dev/log``, or ``$AICONSOLE_AUDIT_SYSLOG``; ``off`` to
disable), so a copy exists outside a file the acting user can edit. The actor is the
account the process runs as, from the kernel (not ``$LOGNAME``/``$USER``, which anyone can
set), with ``sudo``'s invoking user beside it when running as root through sudo.
"""

from __future__ import annotations

import json
import os
import pwd
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiconsole.actions.plan import Outcome, Plan
from aiconsole.text import clean

SYSLOG_ENV = "AICONSOLE_AUDIT_SYSLOG"
DEFAULT_SYSLOG = "/dev/log"
# RFC 3164 priority: facility authpriv (10) * 8 + severity notice (5).
SYSLOG_PRIORITY = 10 * 8 + 5
SYSLOG_MAX = 8000
"""Datagrams larger than this are cut by some syslog daemons; the JSON is cut to fit."""


class AuditFailed(Exception):
    """The audit record could not be written whole; nothing was (or will be) done."""


def default_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "aiconsole" / "audit.jsonl"


def actor() -> dict[str, Any]:
    """Who acts: the effective uid's account; ``sudo_user`` when root got there by sudo."""
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = f"uid {uid}"
    found: dict[str, Any] = {"user": name, "uid": uid}
    sudo_user = os.environ.get("SUDO_USER")
    if uid == 0 and sudo_user:
        # Set by sudo for root; recorded beside the real account, never instead of it.
        found["sudo_user"] = sudo_user
    return found


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AuditLog:
    def __init__(self, path: Path | None = None, syslog: str | None = None) -> None:
        self.path = path or default_path()
        self.syslog = syslog if syslog is not None else os.environ.get(SYSLOG_ENV, DEFAULT_SYSLOG)
        self.syslog_error: str | None = None
        """Why the last record did not reach syslog (None: it did, or syslog is off)."""

    def _append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        try:
            self._write(line)
        except OSError as error:
            raise AuditFailed(f"audit log {self.path}: {error.strerror or error}") from None
        self._to_syslog(line)

    def _write(self, line: bytes) -> None:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(parents=True, exist_ok=True)
            _fsync_directory(directory.parent)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            written = os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_directory(directory)  # the new file's name must survive a crash too
        if written != len(line):
            # A torn record (disk full, file size limit): records() would skip it, so the
            # action would leave no trace. Say so, and let nothing run.
            raise AuditFailed(
                f"audit log {self.path}: short write ({written} of {len(line)} bytes; "
                "disk full or file too large?)"
            )

    def _to_syslog(self, line: bytes) -> None:
        self.syslog_error = None
        if not self.syslog or self.syslog == "off":
            return
        body = line.rstrip(b"\n")[:SYSLOG_MAX]
        message = f"<{SYSLOG_PRIORITY}>aiconsole[{os.getpid()}]: ".encode() + body
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(1.0)
                sock.sendto(message, self.syslog)
        except OSError as error:
            # The file holds the record; syslog's copy is the second line of defence.
            self.syslog_error = f"syslog {self.syslog}: {error.strerror or error}"

    def _base(self, action_id: str, phase: str, plan: Plan) -> dict[str, Any]:
        return {
            "id": action_id,
            "phase": phase,
            "time": time.time(),
            **actor(),
            "host": socket.gethostname(),
            "action": plan.action,
            "scope": plan.scope,
            "targets": list(plan.targets),
            "reason": plan.reason,
            "incident": plan.incident,
        }

    def intent(self, plan: Plan) -> str:
        """Record what is about to run; returns the id the outcome will carry."""
        action_id = uuid.uuid4().hex
        self._append({**self._base(action_id, "intent", plan), "plan": plan.as_record()})
        return action_id

    def outcome(self, action_id: str, outcome: Outcome) -> None:
        status = outcome.status
        self._append(
            {
                **self._base(action_id, "outcome", outcome.plan),
                # None when nobody knows yet: the command got no answer and may still act.
                "ok": None if status == "unknown" else outcome.ok,
                "status": status,
                "error": outcome.error or outcome.unanswered,
                "results": [
                    {"target": r.target, "ok": r.ok, "state": r.state, "detail": r.detail}
                    for r in outcome.results
                ],
            }
        )

    def event(
        self,
        action: str,
        scope: str,
        targets: list[str],
        reason: str | None = None,
        incident: str | None = None,
        **details: Any,
    ) -> str:
        """One record for something that is not a command: a finding raised, acknowledged or
        silenced. Same file, same fields, phase ``event``."""
        event_id = uuid.uuid4().hex
        record = {
            "id": event_id,
            "phase": "event",
            "time": time.time(),
            **actor(),
            "host": socket.gethostname(),
            "action": action,
            "scope": scope,
            "targets": targets,
            "reason": reason,
            "incident": incident,
            **details,
        }
        self._append(record)
        return event_id

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, oldest first; a torn last line (a crash mid-write) is skipped."""
        if not self.path.exists():
            return
        with self.path.open(errors="replace") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    yield record


def format_record(record: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.get("time", 0)))
    who = str(record.get("user"))
    if record.get("sudo_user"):
        who += f" (sudo by {record['sudo_user']})"
    head = (
        f"{when}  {who}@{record.get('host')}  {record.get('phase'):<7}  "
        f"{record.get('action')} {','.join(record.get('targets', []))} on {record.get('scope')}"
    )
    if record.get("reason"):
        head += f"  reason: {record['reason']}"
    if record.get("phase") == "outcome":
        states = ", ".join(f"{r['target']}={r['state']}" for r in record.get("results", []))
        status = record.get("status") or ("ok" if record.get("ok") else "FAILED")
        head += f"  -> {'ok' if status == 'verified' else status.upper()}"
        if record.get("error"):
            head += f" ({record['error']})"
        if states:
            head += f" [{states}]"
    return clean(head, limit=16384)  # the file is the user's: it may hold anything
