"""``aiconsole health``: one snapshot judged, as JSON or as lines an operator reads."""

from __future__ import annotations

from aiconsole.health import EXIT_UNKNOWN, exit_code, judge, worst
from aiconsole.health.silences import Mute, apply
from aiconsole.health.thresholds import Thresholds
from aiconsole.model import FleetSnapshot, HealthReport
from aiconsole.text import clean


def health_report(
    snapshot: FleetSnapshot, thresholds: Thresholds, mutes: tuple[Mute, ...] = ()
) -> HealthReport:
    findings = apply(judge(snapshot, thresholds), mutes, snapshot.generated_at)
    code = exit_code(snapshot, findings)
    status = "unknown" if code == EXIT_UNKNOWN else (worst(findings) or "ok")
    if status == "info":
        status = "ok"
    return HealthReport(
        generated_at=snapshot.generated_at,
        status=status,  # type: ignore[arg-type]
        exit_code=code,
        findings=findings,
    )


def render_text(report: HealthReport) -> str:
    """``CRITICAL gpu07 gpu/3  XID 79 (...) on GPU 3 (job 81234 alice) -> drain``."""
    counts = {s: sum(f.severity == s for f in report.findings) for s in ("critical", "warning")}
    lines = [f"health: {report.status}, {counts['critical']} critical, {counts['warning']} warning"]
    for finding in report.findings:
        subject = finding.subject
        where = subject.host or f"{subject.cluster}"
        part = f"{subject.kind}/{subject.name}" if subject.name else subject.kind
        action = f"  -> {finding.action}" if finding.action else ""
        if finding.acknowledged:
            action += f"  [acknowledged by {clean(finding.acknowledged, 200)}]"
        elif finding.silenced_until is not None:
            action += "  [silenced]"
        action += f"  incident {finding.incident}"
        lines.append(
            f"{finding.severity.upper():<8} {clean(where, 64):<20} {clean(part, 40):<16} "
            f"{clean(finding.summary, 300)}{action}"
        )
    return "\n".join(lines)
