"""The host screen: one machine in full, as a column of section widgets (summary, GPUs, GPU
health, GPU sparklines, XIDs, processes, history charts, filesystems, disks, network,
InfiniBand).

Each section is a widget of :mod:`aiconsole.widgets` that takes a :class:`HostView`; this
screen lays them out, keeps them current and owns the history's zoom, which the charts and
the GPU sparklines share.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header

from aiconsole.model import FleetSnapshot
from aiconsole.screens.base import LiveScreen
from aiconsole.widgets.gpu_widgets import (
    GpuHealthSection,
    GpuHistorySection,
    GpusSection,
    ProcessSection,
    XidSection,
)
from aiconsole.widgets.history_section import HistorySection, ZoomChosen, zoom_levels
from aiconsole.widgets.host_view import HostView
from aiconsole.widgets.host_widgets import (
    DisksSection,
    FilesystemSection,
    HostSummary,
    IbSection,
    NicsSection,
    NvmeSection,
    SharedFsSection,
)
from aiconsole.widgets.table_section import TableSection


class HostScreen(LiveScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("o", "next_process_order", "Order processes"),
        Binding("plus,equals_sign", "zoom(-1)", "Zoom", key_display="+/-"),
        Binding("minus", "zoom(1)", "Zoom out", show=False),
        Binding("g", "next_gpu", "Next GPU chart", show=False),
        Binding("h", "cursor(-1)", "Chart cursor left", show=False),
        Binding("l", "cursor(1)", "Chart cursor right", show=False),
    ]

    def __init__(self, host_name: str) -> None:
        super().__init__()
        self.host_name = host_name
        self.zoom = 0
        """Index into the history's zoom levels: 0 is the shortest span (three minutes)."""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="host-body"):
            yield HostSummary()
            yield GpusSection()
            yield GpuHealthSection()
            yield GpuHistorySection()
            yield XidSection()
            yield ProcessSection()
            # The charts are tall: below what an operator reads first in an incident.
            yield HistorySection()
            yield FilesystemSection()
            yield NvmeSection()
            yield SharedFsSection()
            yield DisksSection()
            yield NicsSection()
            yield IbSection()
        yield Footer()

    def on_mount(self) -> None:
        self.title = self.host_name
        super().on_mount()

    @property
    def zoom_levels(self) -> list[float]:
        return zoom_levels(self.console.gpu_history.window_s)

    @property
    def span_s(self) -> float:
        """The history span shown now."""
        levels = self.zoom_levels
        return levels[min(self.zoom, len(levels) - 1)]

    def render_snapshot(self, snapshot: FleetSnapshot) -> None:
        state = next((h for h in snapshot.hosts if h.name == self.host_name), None)
        palette = self.palette
        self.query_one(HostSummary).show(self.host_name, snapshot, state, palette)
        if state is None or state.sample is None:
            return
        view = HostView(
            name=self.host_name,
            snapshot=snapshot,
            state=state,
            sample=state.sample,
            palette=palette,
            history=self.console.gpu_history,
            span_s=self.span_s,
        )
        for section in self.query(TableSection):
            section.show(view)
        self.query_one(HistorySection).show(view, self.zoom_levels)

    def redraw(self) -> None:
        snapshot = self.console.fleet_snapshot
        if snapshot is not None:
            self.render_snapshot(snapshot)

    def action_next_process_order(self) -> None:
        self.query_one(ProcessSection).next_order()
        self.redraw()

    def action_zoom(self, steps: int) -> None:
        """Zoom in (negative steps: a shorter span) or out, within the window."""
        self.zoom = max(0, min(len(self.zoom_levels) - 1, self.zoom + steps))
        self.redraw()

    def on_zoom_chosen(self, message: ZoomChosen) -> None:
        levels = self.zoom_levels
        if message.span_s in levels:
            self.zoom = levels.index(message.span_s)
            self.redraw()

    def action_next_gpu(self) -> None:
        snapshot = self.console.fleet_snapshot
        state = (
            next((h for h in snapshot.hosts if h.name == self.host_name), None)
            if snapshot
            else None
        )
        if state is None or state.sample is None:
            return
        self.query_one(HistorySection).next_gpu([gpu.index for gpu in state.sample.gpu.gpus])
        self.redraw()

    def action_cursor(self, cells: int) -> None:
        self.query_one(HistorySection).move_cursor(cells)
