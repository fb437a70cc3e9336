"""The moments a replay can jump to: a new XID, a new finding, an action from the audit log.

Found by the recorder while it writes (comparing each snapshot with the one before), kept in
each chunk and again in the index, so the replay's timeline is known without inflating every
chunk. Works on the snapshot's builtins form, like the rest of the recording: a finding is
any item new in the snapshot's ``findings`` list, whatever its fields.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from aiconsole.text import MAX_REASON, clean

EventKind = Literal["xid", "finding", "action"]


class Event(msgspec.Struct, frozen=True, kw_only=True):
    time: float
    """Console clock: the snapshot's ``generated_at`` (XIDs, findings) or the audit record's."""
    frame: int
    """The first frame of the recording that shows it."""
    kind: EventKind
    host: str | None = None
    text: str

    def cleaned(self) -> Event:
        """As read from a file: its strings are outside text like any other."""
        host = None if self.host is None else clean(self.host, MAX_REASON)
        return msgspec.structs.replace(self, host=host, text=clean(self.text, MAX_REASON))


def snapshot_events(previous: Any, current: Any, frame: int) -> list[Event]:
    """Events that ``current`` shows and ``previous`` (the frame before) did not. With no
    previous frame there is none: what a host already knew at the start is history."""
    if previous is None:
        return []
    at = float(current.get("generated_at") or 0.0)
    events: list[Event] = []
    before = {host.get("name"): host for host in previous.get("hosts", ())}
    for host in current.get("hosts", ()):
        xids = _xids(host)
        known = _xids(before.get(host.get("name")) or {})
        if xids == known:
            continue
        seen = {msgspec.json.encode(xid) for xid in known}
        for xid in xids:
            if type(xid) is dict and msgspec.json.encode(xid) not in seen:
                events.append(
                    Event(
                        time=at, frame=frame, kind="xid", host=host.get("name"), text=_xid_text(xid)
                    )
                )
    findings = current.get("findings")
    if type(findings) in (list, tuple) and findings != previous.get("findings"):
        seen = {msgspec.json.encode(f) for f in previous.get("findings") or ()}
        for finding in findings:
            if msgspec.json.encode(finding) not in seen:
                events.append(_finding(finding, at, frame))
    return events


def _xids(host: Any) -> list[Any]:
    sample = host.get("sample") if type(host) is dict else None
    gpu = sample.get("gpu") if type(sample) is dict else None
    xids: Any = gpu.get("xid_events") if type(gpu) is dict else None
    return list(xids) if type(xids) in (list, tuple) else []  # tuples from to_builtins


def _xid_text(xid: dict[str, Any]) -> str:
    gpu = xid.get("gpu_index")
    where = f" GPU {gpu}" if gpu is not None else ""
    return f"XID {xid.get('xid')}{where}: {xid.get('name') or 'unknown'}"


def _finding(finding: Any, at: float, frame: int) -> Event:
    if type(finding) is not dict:
        return Event(time=at, frame=frame, kind="finding", text=str(finding))
    host = finding.get("host")
    words = next(
        (
            finding[key]
            for key in ("summary", "message", "title", "rule", "check")
            if type(finding.get(key)) is str
        ),
        "finding",
    )
    return Event(
        time=at, frame=frame, kind="finding", host=host if type(host) is str else None, text=words
    )


def action_event(record: dict[str, Any], frame: int) -> Event | None:
    """An audit record as a timeline event; None for a record without a time."""
    at: Any = record.get("time")
    if type(at) not in (int, float):
        return None
    targets = record.get("targets")
    names = ",".join(str(t) for t in targets) if type(targets) is list else ""
    text = f"{record.get('action')} {names} on {record.get('scope')}: {record.get('phase')}"
    if record.get("phase") == "outcome":
        text += " ok" if record.get("ok") else " FAILED"
    if record.get("reason"):
        text += f" (reason: {record['reason']})"
    return Event(time=float(at), frame=frame, kind="action", host=None, text=text)
