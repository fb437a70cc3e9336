"""Acknowledgements and silences, applied to findings (pure; the store is in actions/).

An acknowledgement names one finding by its incident id: "I have it", with a note; it holds
until the finding clears. A silence names a rule (or ``*``) and a subject prefix (a host, or
``gpu07/gpu/3``) for a while: "we know, stop telling us". Either keeps the finding on screen,
marked, but out of the alerts and out of ``health``'s exit code.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from aiconsole.model import Finding


@dataclass(frozen=True)
class Mute:
    kind: str
    """``ack`` or ``silence``."""
    user: str
    note: str
    at: float
    incident: str | None = None
    """``ack``: the finding's incident id."""
    rule: str = "*"
    """``silence``: a rule id, or ``*`` for every rule."""
    subject: str = ""
    """``silence``: a subject key prefix (``gpu07`` covers the host and all its parts)."""
    until: float | None = None
    """``silence``: when it ends."""

    def covers(self, finding: Finding, now: float) -> bool:
        if self.kind == "ack":
            return finding.incident == self.incident
        if self.until is not None and now >= self.until:
            return False
        if self.rule not in ("*", finding.rule):
            return False
        key = finding.subject.key
        return key == self.subject or key.startswith(self.subject.rstrip("/") + "/")


def apply(
    findings: tuple[Finding, ...], mutes: tuple[Mute, ...], now: float
) -> tuple[Finding, ...]:
    """The findings, each marked with the acknowledgement or silence that covers it."""
    if not mutes:
        return findings
    marked = []
    for finding in findings:
        changes: dict[str, object] = {}
        for mute in mutes:
            if not mute.covers(finding, now):
                continue
            if mute.kind == "ack":
                changes["acknowledged"] = f"{mute.user}: {mute.note}"
            else:
                changes["silenced_until"] = mute.until
        marked.append(msgspec.structs.replace(finding, **changes) if changes else finding)
    return tuple(marked)


def muted(finding: Finding) -> bool:
    return finding.acknowledged is not None or finding.silenced_until is not None
