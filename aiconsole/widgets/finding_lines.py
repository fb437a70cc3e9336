"""The host screen's findings: what the health rules say about this host, worst first."""

from __future__ import annotations

from rich.text import Text

from aiconsole.health.context import describe
from aiconsole.health.silences import muted
from aiconsole.model import Finding
from aiconsole.text import clean
from aiconsole.widgets.render import Palette

LEVEL = {"critical": "error", "warning": "warning", "info": "secondary"}
MAX_LINES = 12


def findings_text(host: str, findings: tuple[Finding, ...], palette: Palette) -> Text:
    """One line per finding about ``host`` (the list is already worst first); empty if none."""
    mine = [f for f in findings if f.subject.host == host]
    text = Text()
    if not mine:
        return text
    text.append(f"Findings ({len(mine)}; f: all findings)\n", style="bold")
    for finding in mine[:MAX_LINES]:
        style = palette.dim if muted(finding) else palette.level(LEVEL[finding.severity])
        text.append(f" {finding.severity:<8} ", style=style)
        text.append(clean(finding.summary, 200))
        hits = describe(finding.workloads)
        if hits and hits not in finding.summary:
            text.append(f" ({clean(hits, 80)})")
        if finding.action:
            text.append(f"  -> {finding.action}", style=palette.dim)
        if finding.acknowledged:
            text.append(f"  [ack {clean(finding.acknowledged, 80)}]", style=palette.dim)
        text.append("\n")
    if len(mine) > MAX_LINES:
        text.append(
            f" ... {len(mine) - MAX_LINES} more on the health screen (f)\n", style=palette.dim
        )
    text.rstrip()
    return text
