"""The audit log: one JSON object per line, appended and fsynced, never rewritten.

Each action writes its intent before anything runs and its outcome after, under one id, so
an action that died half-way still shows up (an intent without an outcome).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiconsole.actions.plan import Outcome, Plan


def default_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "aiconsole" / "audit.jsonl"


class AuditLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def _append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _base(self, action_id: str, phase: str, plan: Plan) -> dict[str, Any]:
        return {
            "id": action_id,
            "phase": phase,
            "time": time.time(),
            "user": getpass.getuser(),
            "host": socket.gethostname(),
            "action": plan.action,
            "scope": plan.scope,
            "targets": list(plan.targets),
            "reason": plan.reason,
        }

    def intent(self, plan: Plan) -> str:
        """Record what is about to run; returns the id the outcome will carry."""
        action_id = uuid.uuid4().hex
        self._append({**self._base(action_id, "intent", plan), "plan": plan.as_record()})
        return action_id

    def outcome(self, action_id: str, outcome: Outcome) -> None:
        self._append(
            {
                **self._base(action_id, "outcome", outcome.plan),
                "ok": outcome.ok,
                "error": outcome.error,
                "results": [
                    {"target": r.target, "ok": r.ok, "state": r.state, "detail": r.detail}
                    for r in outcome.results
                ],
            }
        )

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, oldest first; a torn last line (a crash mid-write) is skipped."""
        if not self.path.exists():
            return
        with self.path.open() as lines:
            for line in lines:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue


def format_record(record: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.get("time", 0)))
    head = (
        f"{when}  {record.get('user')}@{record.get('host')}  {record.get('phase'):<7}  "
        f"{record.get('action')} {','.join(record.get('targets', []))} on {record.get('scope')}"
    )
    if record.get("reason"):
        head += f"  reason: {record['reason']}"
    if record.get("phase") == "outcome":
        states = ", ".join(f"{r['target']}={r['state']}" for r in record.get("results", []))
        head += f"  -> {'ok' if record.get('ok') else 'FAILED'}"
        if record.get("error"):
            head += f" ({record['error']})"
        if states:
            head += f" [{states}]"
    return head
