"""The acknowledgement and silence store: a small JSON file beside the audit log.

Every change is audited first (who, what, why, until when), then the file is replaced
atomically. Expired silences are dropped when the file is next written.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from aiconsole.actions.audit import AuditLog, actor
from aiconsole.health.silences import Mute
from aiconsole.text import clean

MAX_MUTES = 10_000


class MuteError(ValueError):
    """A bad acknowledgement or silence (or a store that cannot be read)."""


def store_path(audit: AuditLog) -> Path:
    return audit.path.with_name("mutes.json")


def load(path: Path) -> tuple[Mute, ...]:
    """The mutes in the file; a missing file is none, a broken one an error (not silence)."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return ()
    except (OSError, ValueError) as error:
        raise MuteError(f"{path}: cannot read acknowledgements and silences: {error}") from None
    if not isinstance(raw, list):
        raise MuteError(f"{path}: not a list of acknowledgements and silences")
    mutes = []
    for item in raw[:MAX_MUTES]:
        try:
            mutes.append(
                Mute(
                    kind=str(item["kind"]),
                    user=clean(str(item["user"]), 64),
                    note=clean(str(item["note"]), 500),
                    at=float(item["at"]),
                    incident=item.get("incident"),
                    rule=str(item.get("rule", "*")),
                    subject=str(item.get("subject", "")),
                    until=float(item["until"]) if item.get("until") is not None else None,
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise MuteError(f"{path}: an entry is malformed: {str(item)[:200]}") from None
    return tuple(mutes)


def _save(path: Path, mutes: tuple[Mute, ...]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".mutes.")
    with os.fdopen(fd, "w") as out:
        json.dump([asdict(m) for m in mutes], out, indent=1)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def add(audit: AuditLog, mute: Mute, now: float | None = None) -> None:
    """Audit the mute, then store it (dropping expired silences)."""
    now = time.time() if now is None else now
    path = store_path(audit)
    kept = tuple(m for m in load(path) if m.until is None or m.until > now)
    target = mute.incident if mute.kind == "ack" else f"{mute.rule}@{mute.subject or '*'}"
    audit.event(
        mute.kind,
        "health",
        [str(target)],
        mute.note,
        mute.incident,
        until=mute.until,
    )
    _save(path, (*kept, mute))


def acknowledgement(incident: str, note: str) -> Mute:
    if not note.strip():
        raise MuteError("a note is required: say why")
    return Mute("ack", str(actor()["user"]), clean(note, 500), time.time(), incident=incident)


def silence(rule: str, subject: str, seconds: float, note: str) -> Mute:
    if not note.strip():
        raise MuteError("a note is required: say why")
    if not 0 < seconds <= 30 * 86400:
        raise MuteError("a silence lasts more than 0 s and at most 30 days")
    now = time.time()
    return Mute(
        "silence",
        str(actor()["user"]),
        clean(note, 500),
        now,
        rule=rule,
        subject=subject,
        until=now + seconds,
    )
