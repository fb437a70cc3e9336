"""The first line of an incident's story: a critical finding, audited when first raised.

The live console records each new critical finding once, under its incident id, so that
``aiconsole audit --incident ID`` starts with the fault itself (the XID, the lost GPU) and
goes on with every action taken about it. Incidents already in the log (from before a
restart of the console) are not recorded again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from aiconsole.actions.audit import AuditFailed, AuditLog
from aiconsole.actions.mutes import load, store_path
from aiconsole.health.silences import Mute
from aiconsole.model import Finding


class IncidentRecorder:
    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit
        self.error: str | None = None
        self._recorded = {
            str(r.get("incident"))
            for r in audit.records()
            if r.get("phase") == "event" and r.get("action") == "finding"
        }

    def record(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            if finding.severity != "critical" or finding.incident in self._recorded:
                continue
            self._recorded.add(finding.incident)
            try:
                self.audit.event(
                    "finding",
                    finding.subject.host or finding.subject.cluster or "fleet",
                    [finding.subject.key],
                    finding.summary,
                    finding.incident,
                    rule=finding.rule,
                    evidence=finding.evidence,
                    workloads=[w.id for w in finding.workloads],
                )
            except AuditFailed as failure:
                self.error = str(failure)


class WatchedMutes:
    """The acknowledgements and silences file, re-read only when it changes."""

    def __init__(self, audit: AuditLog) -> None:
        self.path = store_path(audit)
        self._stamp: tuple[float, int] | None = None
        self._mutes: tuple[Mute, ...] = ()
        self.error: str | None = None

    def __call__(self) -> tuple[Mute, ...]:
        try:
            stat = os.stat(self.path)
        except OSError:
            self._stamp, self._mutes = None, ()
            return ()
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._mutes, self.error = load(self.path), None
            except ValueError as error:  # MuteError: keep the last good set, say why
                self.error = str(error)
        return self._mutes
