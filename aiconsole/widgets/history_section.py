"""The host's history as charts: CPU, memory, network and InfiniBand rates of the host, and
utilisation, memory, power and temperature of one GPU at a time, over a span the operator
zooms between three minutes and the whole window the console keeps.

The span lives with the screen (the GPU sparklines follow it too); this widget shows it, and
asks for another one with :class:`ZoomChosen` when a span is clicked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.widgets import Static

from aiconsole import units
from aiconsole.history import Series
from aiconsole.widgets.chart import Chart, ChartSpec
from aiconsole.widgets.host_view import HostView

ZOOM_STEPS_S = (180.0, 600.0, 1800.0, 3600.0, 3 * 3600.0, 6 * 3600.0, 12 * 3600.0)
"""The spans between three minutes and the window (the window itself is always the last)."""


def zoom_levels(window_s: float) -> list[float]:
    """The spans a history of ``window_s`` can be zoomed to, shortest first."""
    return [step for step in ZOOM_STEPS_S if step < window_s] + [window_s]


def span_label(seconds: float) -> str:
    return f"{seconds / 3600:g}h" if seconds >= 3600 else f"{seconds / 60:g}m"


def _rate(value: float) -> str:
    return units.rate_short(value)


HOST_CHARTS: tuple[tuple[str, ChartSpec], ...] = (
    ("cpu", ChartSpec("CPU", lambda v: units.percent(v), 0.0, 100.0)),
    ("memory", ChartSpec("Memory used", units.bytes_short)),
    ("net_rx", ChartSpec("Network rx", _rate)),
    ("net_tx", ChartSpec("Network tx", _rate)),
    ("ib_rx", ChartSpec("InfiniBand rx", _rate)),
    ("ib_tx", ChartSpec("InfiniBand tx", _rate)),
)
"""Host metric -> its chart, in the order drawn (two to a row)."""

GPU_CHARTS: tuple[tuple[str, str, Callable[[float], str], float | None], ...] = (
    ("util", "utilisation", lambda v: units.percent(v), 100.0),
    ("memory", "memory used", units.bytes_short, None),
    ("power", "power", lambda v: units.number(v, "W"), None),
    ("temperature", "temperature", lambda v: units.number(v, "C"), None),
)
"""GPU metric -> title after ``GPU n``, value format, fixed top (None: what the span holds)."""


def _capacity(total: int | None) -> float | None:
    """A chart's top from a capacity the host reported (None: scale to the values)."""
    return float(total) if total else None


class ZoomChosen(Message):
    """A span was clicked on the zoom bar."""

    def __init__(self, span_s: float) -> None:
        super().__init__()
        self.span_s = span_s


class ZoomBar(Static):
    """``zoom 3m 10m [30m] 1h  (+/-)   GPU 2 of 8 (g)``: click a span to zoom to it."""

    def __init__(self) -> None:
        super().__init__(id="history-zoom")
        self._places: list[tuple[int, int, float]] = []

    def show(self, levels: list[float], span_s: float, gpu_note: str, accent: Style) -> None:
        text = Text("zoom ")
        self._places = []
        for level in levels:
            label = span_label(level)
            start = len(text)
            if level == span_s:
                text.append(f"[{label}]", style=accent + Style(bold=True))
            else:
                text.append(f" {label} ")
            self._places.append((start, len(text), level))
            text.append(" ")
        text.append(" (+/- or click)")
        if gpu_note:
            text.append(f"   {gpu_note}")
        self.update(text)

    def on_click(self, event: events.Click) -> None:
        for start, stop, level in self._places:
            if start <= event.x < stop:
                self.post_message(ZoomChosen(level))
                return


class HistorySection(Vertical):
    """Charts of one host's history (and of one of its GPUs, stepped with ``g``)."""

    DEFAULT_CSS = """
    HistorySection {
        height: auto;
    }
    HistorySection Grid {
        grid-size: 2;
        grid-rows: 7;
        grid-gutter: 1 2;
        height: auto;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="history-section")
        self.gpu: int | None = None
        """The GPU whose charts are shown (None: the host's first)."""
        self.cursor: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("History", classes="section-title", id="history-title")
        yield ZoomBar()
        with Grid(id="history-charts"):
            for metric, spec in HOST_CHARTS:
                yield Chart(spec, id=f"chart-host-{metric}")
            for metric, _, fmt, top in GPU_CHARTS:
                yield Chart(ChartSpec(f"GPU {metric}", fmt, 0.0, top), id=f"chart-gpu-{metric}")

    def next_gpu(self, gpus: list[int]) -> None:
        if not gpus:
            return
        if self.gpu not in gpus:
            self.gpu = gpus[0]
        self.gpu = gpus[(gpus.index(self.gpu) + 1) % len(gpus)]

    def move_cursor(self, cells: int) -> None:
        last = self.query_one("#chart-host-cpu", Chart).plot_width - 1
        start = last if self.cursor is None else self.cursor
        self.set_cursor(max(0, min(last, start + cells)))

    def set_cursor(self, cell: int | None) -> None:
        self.cursor = cell
        for chart in self.query(Chart):
            chart.cursor = cell

    def on_chart_cursor_moved(self, message: Chart.CursorMoved) -> None:
        message.stop()
        self.set_cursor(None if message.cell == self.cursor else message.cell)

    def show(self, view: HostView, levels: list[float]) -> None:
        styles = view.palette.level_styles()
        styles["cursor"] = Style(reverse=True)
        end = view.snapshot.generated_at
        history = view.history
        gpus = [gpu.index for gpu in view.sample.gpu.gpus]
        if self.gpu not in gpus:
            self.gpu = gpus[0] if gpus else None
        note = f"GPU {self.gpu} of {len(gpus)} (g: next GPU)" if self.gpu is not None else ""
        self.query_one(ZoomBar).show(levels, view.span_s, note, styles["accent"])
        self.query_one("#history-title", Static).update(
            Text(f"History (last {span_label(view.span_s)} of {span_label(history.window_s)})")
        )
        has_ib = bool(view.sample.ib_ports)
        for metric, spec in HOST_CHARTS:
            chart = self.query_one(f"#chart-host-{metric}", Chart)
            chart.display = has_ib or not metric.startswith("ib_")
            if metric == "memory":  # drawn against what the host has, when it says
                chart.spec = replace(spec, top=_capacity(view.sample.memory.total_bytes))
            chart.show(history.host_series(view.name, metric, view.span_s, end), styles)
        gpu = next((g for g in view.sample.gpu.gpus if g.index == self.gpu), None)
        for metric, title, fmt, top in GPU_CHARTS:
            chart = self.query_one(f"#chart-gpu-{metric}", Chart)
            chart.display = self.gpu is not None
            if self.gpu is None:
                continue
            if metric == "memory" and gpu is not None:
                top = _capacity(gpu.memory_total_bytes)
            chart.spec = ChartSpec(f"GPU {self.gpu} {title}", fmt, 0.0, top)
            series: Series = history.gpu_series(view.name, self.gpu, metric, view.span_s, end)
            chart.show(series, styles)
