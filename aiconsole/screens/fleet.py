"""The fleet screen: one row per host, the first thing an operator sees."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header

from aiconsole import units
from aiconsole.model import FleetSnapshot, HostState
from aiconsole.screens.base import LiveScreen
from aiconsole.summary import summarize
from aiconsole.widgets.render import Palette, status_text
from aiconsole.widgets.table_sync import Cell, TableSync

# (key, label, width): fixed widths keep every column of a typical row inside 80 cells,
# and spare the table a width re-measure of every row on each refresh. None = fit content.
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("host", "Host", None),
    ("status", "Status", 11),
    ("age", "Age", 4),
    ("cpu", "CPU", 4),
    ("mem", "Mem", 4),
    ("gpus", "GPU", 3),
    ("util", "Util", 4),
    ("gmem", "GMem", 4),
    ("temp", "Temp", 4),
    ("power", "Power", 5),
    ("rx", "Net rx", 7),
    ("tx", "Net tx", 7),
    ("reason", "Reason", None),
)
GAP = " "
"""Columns are separated by one space (DataTable's own padding would take two)."""


class FleetScreen(LiveScreen):
    BINDINGS = [
        Binding("enter", "open_host", "Open host", show=True, priority=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[Cell] = DataTable(
            id="fleet", cursor_type="row", zebra_stripes=True, cell_padding=0
        )
        for position, (key, label, width) in enumerate(COLUMNS):
            gap = GAP if position else ""
            table.add_column(
                Text(gap + label, justify="left" if width is None or key == "status" else "right"),
                key=key,
                width=None if width is None else width + len(gap),
            )
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self._sync = TableSync(self.query_one("#fleet", DataTable), [key for key, _, _ in COLUMNS])
        super().on_mount()

    def render_snapshot(self, snapshot: FleetSnapshot) -> None:
        palette = self.palette
        rows = {state.name: fleet_row(state, palette) for state in snapshot.hosts}
        self._sync.apply(rows)
        counts = Counter(state.status for state in snapshot.hosts)
        detail = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items())
        count = len(snapshot.hosts)
        self.sub_title = (
            f"{count} host{'s' if count != 1 else ''}: {detail}" if count else "no hosts"
        )

    def action_open_host(self) -> None:
        table = self.query_one("#fleet", DataTable)
        if table.row_count:
            row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
            if row_key.value is not None:
                self.console.open_host(row_key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.console.open_host(event.row_key.value)


def fleet_row(state: HostState, palette: Palette) -> tuple[Cell, ...]:
    s = summarize(state)
    memory = _percent_of(s.memory_used_bytes, s.memory_total_bytes)
    gpu_memory = _percent_of(s.gpu_memory_used_bytes, s.gpu_memory_total_bytes)
    cells: tuple[Cell, ...] = (
        s.name,
        status_text(s.status, palette),
        units.duration(s.age_s),
        Text(units.percent(s.cpu_percent), style=palette.for_percent(s.cpu_percent)),
        Text(units.percent(memory), style=palette.for_percent(memory)),
        str(s.gpu_count) if s.gpu_count else units.NA,
        Text(units.percent(s.gpu_util_mean), style=palette.for_percent(s.gpu_util_mean)),
        Text(units.percent(gpu_memory), style=palette.for_percent(gpu_memory)),
        Text(units.number(s.gpu_temp_max, "C"), style=palette.for_percent(s.gpu_temp_max, 80, 88)),
        units.power(s.gpu_power_w),
        units.rate_short(s.net_rx_bytes_per_s),
        units.rate_short(s.net_tx_bytes_per_s),
        Text(s.reason or "", style=palette.dim),
    )
    return tuple(_aligned(cell, position) for position, cell in enumerate(cells))


def _aligned(cell: Cell, position: int) -> Cell:
    """Prefix the column gap; numbers right-aligned, words left."""
    key, _, width = COLUMNS[position]
    if position == 0:
        return cell
    text = cell.copy() if isinstance(cell, Text) else Text(cell)
    if width is not None and key != "status":
        text.pad_left(max(0, width - text.cell_len))
    text.pad_left(len(GAP))
    return text


def _percent_of(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else 100.0 * part / whole
