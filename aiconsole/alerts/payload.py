"""Findings as Alertmanager alerts (``/api/v2/alerts``) and as webhook documents.

An Alertmanager alert is identified by its label set, so the labels hold what identifies the
finding (rule, severity, host, the part) and nothing that changes from one sample to the next;
what changes (summary, evidence, the job it hits) goes into annotations. Active alerts carry an
``endsAt`` a few resend periods ahead, so an alert resolves by itself if the console stops
re-sending; a cleared finding is sent once more with ``endsAt`` now.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from aiconsole.model import Finding


def iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, tz=dt.timezone.utc).isoformat().replace("+00:00", "Z")


def labels(finding: Finding) -> dict[str, str]:
    subject = finding.subject
    result = {
        "alertname": finding.rule,
        "severity": finding.severity,
        "source": "aiconsole",
        "subject": subject.kind,
    }
    if subject.host is not None:
        result["host"] = subject.host
    if subject.cluster is not None:
        result["cluster"] = subject.cluster
    if subject.name:
        result["part"] = subject.name
    return result


def alert_annotations(finding: Finding) -> dict[str, str]:
    result = {"summary": finding.summary, "incident": finding.incident}
    if finding.action:
        result["action"] = finding.action
    if finding.workloads:
        result["workloads"] = ", ".join(
            f"{w.kind} {w.id}" + (f" ({w.user})" if w.user else "") for w in finding.workloads
        )
    for key, value in finding.evidence.items():
        result[f"evidence_{key}"] = value
    return result


def alertmanager_alert(finding: Finding, ends_at: float) -> dict[str, object]:
    return {
        "labels": labels(finding),
        "annotations": alert_annotations(finding),
        "startsAt": iso(finding.first_seen),
        "endsAt": iso(ends_at),
        "generatorURL": "",
    }


def webhook_document(active: tuple[Finding, ...], resolved: tuple[Finding, ...]) -> bytes:
    return msgspec.json.encode(
        {"version": 1, "source": "aiconsole", "active": active, "resolved": resolved}
    )
