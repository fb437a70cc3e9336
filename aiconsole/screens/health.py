"""The health screen: every finding, worst first, with the job it hits and what to do.

Enter opens the finding's host; ``d`` opens the drain plan of its Slurm node with the reason
filled in from the finding (``xid 79 on GPU 3 (job 81234 alice)``); ``/`` filters.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from aiconsole.health.context import describe, host_names
from aiconsole.model import Finding, FleetSnapshot
from aiconsole.screens.base import LiveScreen
from aiconsole.text import clean
from aiconsole.widgets.click_table import ClickTable
from aiconsole.widgets.render import Palette
from aiconsole.widgets.table_sync import Cell, Rows, TableSync

COLUMNS = (
    ("Severity", 8),
    ("Where", None),
    ("Part", None),
    ("Finding", None),
    ("Job", None),
    ("Action", 11),
    ("Since", 8),
)
SEVERITY_LEVEL = {"critical": "error", "warning": "warning", "info": "secondary"}


def finding_key(finding: Finding) -> str:
    return f"{finding.rule}@{finding.subject.key}"


def drain_reason(finding: Finding) -> str:
    """What goes into ``scontrol update ... reason=``: short, and names the evidence."""
    evidence = finding.evidence
    if "xid" in evidence:
        gpu = finding.subject.name.split(":", 1)[0] if finding.subject.name else None
        text = f"xid {evidence['xid']}" + (f" on GPU {gpu}" if gpu else "")
    else:
        text = finding.summary.split(" (", 1)[0]
    hits = describe(finding.workloads)
    return clean(text + (f" ({hits})" if hits else ""), 200)


def since(first_seen: float, now: float) -> str:
    seconds = max(0, int(now - first_seen))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def finding_rows(findings: tuple[Finding, ...], palette: Palette, text: str, now: float) -> Rows:
    rows: dict[str, tuple[Cell, ...]] = {}
    for finding in findings:
        subject = finding.subject
        where = subject.host or subject.cluster or ""
        cells = (
            Text(finding.severity, style=palette.level(SEVERITY_LEVEL[finding.severity])),
            Text(clean(where, 64)),
            Text(clean(f"{subject.kind} {subject.name or ''}".strip(), 40)),
            Text(clean(finding.summary, 200)),
            Text(clean(describe(finding.workloads), 80)),
            Text(finding.action or ""),
            Text(since(finding.first_seen, now)),
        )
        if text and not any(text.lower() in cell.plain.lower() for cell in cells):
            continue
        rows[finding_key(finding)] = cells
    return rows


class HealthScreen(LiveScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        # Priority: they move the focus as they are dispatched, so keys typed fast after
        # them reach the filter box or the table (as on the fleet screen).
        Binding("enter", "enter", "Open host", show=False, priority=True),
        Binding("slash", "filter", "Filter", key_display="/", priority=True),
        Binding("d", "drain", "Drain node"),
        Binding("x", "diagnose", "Diagnose host"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self._findings: dict[str, Finding] = {}
        self._sync: TableSync | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="health-status")
        table = ClickTable(id="health-table")
        for column, width in COLUMNS:
            table.add_column(column, key=column, width=width)
        yield table
        yield Input(placeholder="filter: host, rule, job, user, words", id="health-filter")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Health"
        table = self.query_one("#health-table", DataTable)
        self._sync = TableSync(table, [name for name, _ in COLUMNS])
        table.focus()
        super().on_mount()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("drain", "diagnose"):
            return self.console.policy.can_act
        return True

    def render_snapshot(self, snapshot: FleetSnapshot) -> None:
        findings = snapshot.findings
        self._findings = {finding_key(f): f for f in findings}
        counts = {s: sum(f.severity == s for f in findings) for s in ("critical", "warning")}
        line = Text(f"{counts['critical']} critical, {counts['warning']} warning")
        if self.filter_text:
            line.append(f"  filter: {clean(self.filter_text, 60)}")
        self.query_one("#health-status", Static).update(line)
        assert self._sync is not None
        # The snapshot's own time: a replayed or pictured fleet keeps its ages.
        now = snapshot.generated_at
        self._sync.apply(finding_rows(findings, self.palette, self.filter_text, now))

    def selected(self) -> Finding | None:
        table = self.query_one("#health-table", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return self._findings.get(str(row_key.value))

    def action_open_host(self) -> None:
        finding = self.selected()
        if finding is not None and finding.subject.host is not None:
            self.console.open_host(finding.subject.host)

    @on(DataTable.RowSelected, "#health-table")
    def row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_open_host()

    def action_filter(self) -> None:
        box = self.query_one("#health-filter", Input)
        if self.focused is box:
            box.insert_text_at_cursor("/")  # a slash typed into the filter is text
            return
        box.add_class("open")
        self.set_focus(box)

    def action_enter(self) -> None:
        """Enter in the filter applies it and gives the table the keys; on the table it
        opens the finding's host."""
        box = self.query_one("#health-filter", Input)
        table = self.query_one("#health-table", DataTable)
        if self.focused is box:
            self.set_focus(table)
            # Submitted after the keys already queued for the box: the whole filter applies.
            box.call_later(box.action_submit)
        elif self.focused is table:
            self.action_open_host()

    @on(Input.Submitted, "#health-filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        self.filter_text = event.value.strip()
        event.input.remove_class("open")
        if self.focused is event.input:
            self.set_focus(self.query_one("#health-table", DataTable))
        snapshot = self.console.fleet_snapshot
        if snapshot is not None:
            self.render_snapshot(snapshot)

    def action_drain(self) -> None:
        """Drain the Slurm node of the finding's host, the reason taken from the finding."""
        finding = self.selected()
        snapshot = self.console.fleet_snapshot
        if finding is None or snapshot is None:
            return
        node, cluster = self._slurm_node(finding, snapshot)
        if node is None or cluster is None:
            self.notify("no Slurm node for this finding", severity="warning", markup=False)
            return
        self.console.start_drain(
            cluster, node, reason=drain_reason(finding), incident=finding.incident
        )

    def action_diagnose(self) -> None:
        """Run the configured diagnosis on the finding's host; on a pass, offer the resume."""
        finding = self.selected()
        snapshot = self.console.fleet_snapshot
        if finding is None or snapshot is None or finding.subject.host is None:
            return
        node, cluster = self._slurm_node(finding, snapshot)
        where = (cluster, node) if node is not None and cluster is not None else None
        self.console.start_diagnose(finding.subject.host, finding.incident, where)

    @staticmethod
    def _slurm_node(finding: Finding, snapshot: FleetSnapshot) -> tuple[str | None, str | None]:
        subject = finding.subject
        if subject.kind == "slurm_node":
            return subject.name, subject.cluster
        state = next((h for h in snapshot.hosts if h.name == subject.host), None)
        if state is None:
            return None, None
        names = host_names(state)
        for cluster in snapshot.clusters:
            for node in cluster.nodes:
                if node.name in names:
                    return node.name, cluster.name
        return None, None
