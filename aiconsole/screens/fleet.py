"""The fleet screen: one row per host, the first thing an operator sees.

Sort by any column (``s`` steps through them, ``S`` flips the order, or click a title),
filter by name, status or reason (``/``), and group by status or inventory group (``g``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from operator import attrgetter

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Input, Static

from aiconsole import units
from aiconsole.fleet_view import FleetView, arrange
from aiconsole.health.silences import muted
from aiconsole.model import Finding, FleetSnapshot
from aiconsole.screens.base import LiveScreen
from aiconsole.screens.fleet_rows import RowCache
from aiconsole.summary import HostSummary
from aiconsole.text import clean
from aiconsole.widgets.fleet_table import Cell, Column, FleetTable, Row
from aiconsole.widgets.render import STATUS_LABEL, STATUS_LEVEL, Palette

SEVERITY_RANK = {"info": 1, "warning": 2, "critical": 3}
FINDING_LEVEL = {"critical": "error", "warning": "warning", "info": "secondary"}

# Fixed widths for figures; None fits the widest value, and the reason takes the rest of the
# line. Where the line is narrow (80 or 100 columns), the host's own figures (network, memory,
# CPU, power, age: highest "drop" first) give way to the reason, the GPU ones never.
COLUMNS = (
    Column("host", "Host", None, "left"),
    Column("status", "Status", 11, "left"),
    Column("findings", "!", 2),
    Column("age", "Age", 4, drop=1),
    Column("cpu", "CPU", 4, drop=3),
    Column("mem", "Mem", 4, drop=4),
    Column("gpus", "GPU", 3),
    Column("util", "Util", 4),
    Column("gmem", "GMem", 4),
    Column("temp", "Temp", 4),
    Column("power", "Power", 5, drop=2),
    Column("rx", "Net rx", 7, drop=5),
    Column("tx", "Net tx", 7, drop=6),
    Column("reason", "Reason", None, "left"),
)


class FleetScreen(LiveScreen):
    BINDINGS = [
        Binding("s", "next_sort", "Sort"),
        Binding("S", "flip_sort", "Reverse", show=False),
        # "/" and Enter move the focus between the filter box and the table. As priority
        # bindings they run as the key is dispatched, so the keys typed right after them
        # (already queued when typing fast) reach the widget that now has the focus.
        Binding("slash", "filter", "Filter", key_display="/", priority=True),
        Binding("enter", "enter", "Open host", show=False, priority=True),
        Binding("g", "group", "Group"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        # The application's keys to the other screens, named in this footer (short: the
        # footer must fit 80 columns).
        Binding("j", "app.jobs", "Jobs"),
        Binding("f", "app.health", "Findings"),
        Binding("w", "app.workloads", "K8s"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = FleetView()
        self._snapshot: FleetSnapshot | None = None
        # Summaries and rows are derived from a sample; a sample object is immutable, so each
        # is built once however many refreshes show it (see fleet_rows).
        self._rows = RowCache(fleet_cells, sizing_cells, [c.key for c in COLUMNS].index("age"))
        self.state_line = ""
        """The findings and the table's order, filter and grouping, shown under the header."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="fleet-state")
        yield FleetTable(COLUMNS, id="fleet")
        yield Input(placeholder="filter: name, status or reason; !word excludes", id="fleet-filter")
        yield Footer()

    def render_snapshot(self, snapshot: FleetSnapshot) -> None:
        self._snapshot = snapshot
        # Tens of thousands of findings at fleet scale: the muted ones are left out once.
        unmuted = [f for f in snapshot.findings if not muted(f)]
        per_host = findings_per_host(unmuted)
        summaries = self._rows.summaries(snapshot, per_host, current_ages=self.view.sort == "age")
        sections = arrange(summaries, self.view, self.console.fleet.group_of)
        rows: list[Row] = []
        for section in sections:
            if section.label is not None:
                count = len(section.hosts)
                label = f"{section.label} ({count} host{'s' if count != 1 else ''})"
                rows.append(Row(f"\0{section.label}", ((label, ""),), heading=True))
            rows.extend(self._rows.rows(section.hosts))
        table = self.query_one("#fleet", FleetTable)
        table.sorted_column = self.view.sort
        table.set_rows(rows, self.palette.level_styles(), late=self._rows.drawn)
        counts = Counter(map(_STATUS, snapshot.hosts))  # C loops: one item per host
        detail = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items())
        count = len(snapshot.hosts)
        title = f"{count} host{'s' if count != 1 else ''}: {detail}" if count else "no hosts"
        shown = sum(len(section.hosts) for section in sections)
        state = []
        severe = Counter(map(_SEVERITY, unmuted))
        if severe["critical"] or severe["warning"]:
            state.append(f"findings: {severe['critical']} critical, {severe['warning']} warning")
        arranged = self.view.describe()
        if self.view.filter:
            arranged = f"{shown} shown, {arranged}"
        if arranged:
            state.append(arranged)
        # The header keeps the counts; the findings and how the table is arranged go on a
        # line of their own that wraps, so neither is cut at 80 columns.
        self.sub_title = title
        self.state_line = " · ".join(state)
        line = self.query_one("#fleet-state", Static)
        line.update(Text(self.state_line))
        line.display = bool(self.state_line)

    # -- arranging ---------------------------------------------------------------------------

    def _rearrange(self, view: FleetView) -> None:
        self.view = view
        if self._snapshot is not None:
            self.render_snapshot(self._snapshot)

    def action_next_sort(self) -> None:
        self._rearrange(self.view.next_sort([c.key for c in COLUMNS]))

    def action_flip_sort(self) -> None:
        if self.view.sort is not None:
            self._rearrange(self.view.sorted_by(self.view.sort))

    def on_fleet_table_header_clicked(self, event: FleetTable.HeaderClicked) -> None:
        event.stop()
        self._rearrange(self.view.sorted_by(event.column))

    def action_group(self) -> None:
        view = self.view.next_grouping()
        if view.group_by == "group" and not self.console.fleet.group_of:
            view = view.next_grouping()  # no inventory groups: skip that grouping
        self._rearrange(view)

    def action_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        if self.focused is box:
            box.insert_text_at_cursor("/")  # a slash typed into the filter is text
            return
        box.add_class("open")
        # Focus now, not after the next refresh (Widget.focus).
        self.set_focus(box)

    def action_enter(self) -> None:
        """Enter in the filter ends it (the table takes the keys); on the table it opens the
        host under the cursor."""
        box = self.query_one("#fleet-filter", Input)
        table = self.query_one("#fleet", FleetTable)
        if self.focused is box:
            if not box.value.strip():
                box.remove_class("open")
            self.set_focus(table)
        elif self.focused is table:
            table.action_choose()

    def action_clear_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        box.value = ""
        box.remove_class("open")
        self.set_focus(self.query_one("#fleet", FleetTable))

    @on(Input.Changed, "#fleet-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        # A pasted filter may carry control characters; it is shown on the state line.
        self._rearrange(replace(self.view, filter=clean(event.value.strip(), 200)))

    def on_screen_suspend(self) -> None:
        # A host opened while the filter box had the keys: come back to the table, so the
        # next key (g, s, /) acts on the fleet instead of being typed into the filter.
        table = self.query_one("#fleet", FleetTable)
        if self.focused is not table:
            self.set_focus(table)

    def on_fleet_table_row_chosen(self, event: FleetTable.RowChosen) -> None:
        event.stop()
        self.console.open_host(event.key)


_STATUS = attrgetter("status")
_SEVERITY = attrgetter("severity")


def findings_per_host(unmuted: Iterable[Finding]) -> dict[str, tuple[int, str]]:
    """Host -> (findings about it, the worst severity), from findings already unmuted."""
    found: dict[str, tuple[int, str]] = {}
    rank = SEVERITY_RANK
    for finding in unmuted:
        host = finding.subject.host
        if host is None:
            continue
        severity = finding.severity
        known = found.get(host)
        if known is None:
            found[host] = (1, severity)
        else:
            count, worst = known
            found[host] = (count + 1, severity if rank[severity] > rank[worst] else worst)
    return found


def fleet_cells(s: HostSummary) -> tuple[Cell, ...]:
    memory = _percent_of(s.memory_used_bytes, s.memory_total_bytes)
    gpu_memory = _percent_of(s.gpu_memory_used_bytes, s.gpu_memory_total_bytes)
    return (
        (s.name, ""),
        (
            STATUS_LABEL.get(s.status, s.status.replace("_", " ")),
            STATUS_LEVEL.get(s.status, "error"),
        ),
        (
            str(s.findings) if s.findings else "",
            FINDING_LEVEL.get(s.worst_finding or "", ""),
        ),
        (units.duration(s.age_s), ""),
        (units.percent(s.cpu_percent), Palette.percent_level(s.cpu_percent)),
        (units.percent(memory), Palette.percent_level(memory)),
        (str(s.gpu_count) if s.gpu_count else units.NA, ""),
        (units.percent(s.gpu_util_mean), Palette.percent_level(s.gpu_util_mean)),
        (units.percent(gpu_memory), Palette.percent_level(gpu_memory)),
        (units.number(s.gpu_temp_max, "C"), Palette.percent_level(s.gpu_temp_max, 80, 88)),
        (units.power(s.gpu_power_w), ""),
        (units.rate_short(s.net_rx_bytes_per_s), ""),
        (units.rate_short(s.net_tx_bytes_per_s), ""),
        (s.reason or "", "dim"),
    )


_BLANK: Cell = ("", "")
_HOST = [c.key for c in COLUMNS].index("host")
_REASON = [c.key for c in COLUMNS].index("reason")


def sizing_cells(s: HostSummary) -> tuple[Cell, ...]:
    """What the table fits its widest-value columns (host, reason) to; the other cells are
    formatted only when the row is drawn (:func:`fleet_cells`)."""
    cells = [_BLANK] * len(COLUMNS)
    cells[_HOST] = (s.name, "")
    cells[_REASON] = (s.reason or "", "dim")
    return tuple(cells)


def _percent_of(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else 100.0 * part / whole
