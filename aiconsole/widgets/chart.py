"""A time-series chart drawn in braille dots: Textual has no line chart, so this draws one.

Each character cell holds a 2x4 grid of dots, so a chart of ``width`` cells and ``height``
rows has ``2 * width`` time columns and ``4 * height`` levels. A column is filled from the
bottom up to the highest value that fell in it (a one-sample spike still shows); a column no
sample reached stays empty and its place on the time axis is dashed, so a lost sample is told
apart from a zero (a zero still draws the bottom dot).

:func:`draw_chart` is pure (values in, lines of text out); :class:`Chart` is the widget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Group
from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from aiconsole.history import Series

BRAILLE = 0x2800
DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
"""Bit of each dot: [left or right column][row from the top]."""
AXIS_WIDTH = 7
"""Cells left of the plot for the value labels (``  79.6G┤``)."""


@dataclass(frozen=True)
class ChartSpec:
    """What a chart shows: its title, how to print a value, and its fixed bottom/top if any
    (a percentage is drawn 0-100; others scale to what the span holds)."""

    title: str
    format: Callable[[float], str]
    bottom: float | None = 0.0
    top: float | None = None


def columns_of(values: list[float], count: int) -> list[float]:
    """``values`` spread over ``count`` columns, each the highest value that fell in it (NaN
    where none did); fewer values than columns are stretched."""
    total = len(values)
    result: list[float] = []
    for column in range(count):
        start = column * total // count
        stop = max(start + 1, (column + 1) * total // count)
        present = [v for v in values[start:stop] if v == v]
        result.append(max(present) if present else math.nan)
    return result


def draw_plot(columns: list[float], height: int, bottom: float, top: float) -> list[str]:
    """Lines of braille, top line first, for ``columns`` (two per cell) between the bounds."""
    width = (len(columns) + 1) // 2
    cells = [[0] * width for _ in range(height)]
    levels = 4 * height
    spread = top - bottom
    for column, value in enumerate(columns):
        if value != value:
            continue
        fraction = 0.0 if spread <= 0 else (value - bottom) / spread
        level = max(1, min(levels, round(fraction * levels)))  # a zero draws its bottom dot
        side = DOT_BITS[column % 2]
        for dot in range(level):
            row_from_top = levels - 1 - dot
            cells[row_from_top // 4][column // 2] |= side[row_from_top % 4]
    return ["".join(chr(BRAILLE + bits) for bits in line) for line in cells]


TICK_STEPS_S = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
"""Round distances between time-axis labels; the smallest that leaves room is used."""


def time_label(seconds_ago: float) -> str:
    """A tick label: ``now``, ``-30s``, ``-5m``, ``-1h``, ``-1.5h``."""
    if seconds_ago <= 0:
        return "now"
    if seconds_ago < 60:
        return f"-{seconds_ago:.0f}s"
    if seconds_ago < 3600:
        return f"-{seconds_ago / 60:g}m"
    return f"-{seconds_ago / 3600:g}h"


def ago_text(seconds_ago: float) -> str:
    """The cursor's time before now, to the second: ``-83s``, ``-12m05s``, ``-1h02m``."""
    seconds = max(0, round(seconds_ago))
    if seconds < 120:
        return f"-{seconds}s"
    if seconds < 3600:
        return f"-{seconds // 60}m{seconds % 60:02d}s"
    return f"-{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def time_axis(width: int, span_s: float) -> str:
    """``-15m      -10m       -5m       now`` under a plot of ``width`` cells: labels at round
    times before now, as many as fit."""
    line = [" "] * width
    most = max(1, width // 10)
    step = next((s for s in TICK_STEPS_S if span_s / s <= most), TICK_STEPS_S[-1])
    ago = 0.0
    while ago <= span_s + 1e-9:
        label = time_label(ago)
        position = round((1 - ago / span_s) * (width - 1)) if span_s > 0 else width - 1
        start = min(max(0, position - len(label) // 2), width - len(label))
        if not any(ch != " " for ch in line[max(0, start - 1) : start + len(label) + 1]):
            line[start : start + len(label)] = label
        ago += step
    return "".join(line)


@dataclass(frozen=True)
class Drawn:
    """A chart's text and the facts shown beside it (for tests and the cursor)."""

    lines: list[Text]
    columns: list[float]
    gaps: int
    """Time columns with no sample in them."""
    low: float | None
    high: float | None


def draw_chart(
    spec: ChartSpec,
    series: Series,
    width: int,
    height: int,
    styles: dict[str, Style],
    cursor: int | None = None,
) -> Drawn:
    """The whole chart: title with now/min/max, value axis, plot, dashed gaps, time axis."""
    plot_width = max(4, width - AXIS_WIDTH)
    columns = columns_of(series.values, 2 * plot_width)
    present = [v for v in series.values if v == v]
    low = min(present) if present else None
    high = max(present) if present else None
    bottom = spec.bottom if spec.bottom is not None else (low or 0.0)
    top = spec.top if spec.top is not None else max(high or 0.0, bottom)
    if top <= bottom:
        top = bottom + 1.0
    # One line whatever the width: cut at the right edge, never wrapped into the plot.
    title = Text(spec.title, style=styles["accent"], no_wrap=True, overflow="ellipsis")
    if cursor is not None and 0 <= cursor < plot_width:
        pair = [v for v in columns[2 * cursor : 2 * cursor + 2] if v == v]
        span_s = len(series.values) * series.step
        ago = span_s * (1 - (cursor + 0.5) / plot_width)
        title.append(f"  at {ago_text(ago)} ", style=styles["dim"])
        title.append(spec.format(max(pair)) if pair else "no sample", style=styles["warning"])
    else:
        latest = next((v for v in reversed(series.values) if v == v), None)
        title.append("  now ", style=styles["dim"])
        title.append("–" if latest is None else spec.format(latest))
    for name, value in (("min", low), ("max", high)):
        title.append(f"  {name} ", style=styles["dim"])
        title.append("–" if value is None else spec.format(value))
    title.truncate(width, overflow="ellipsis")
    plot = draw_plot(columns, height, bottom, top)
    lines = [title]
    for row, body in enumerate(plot):
        label = spec.format(top) if row == 0 else spec.format(bottom) if row == height - 1 else ""
        line = Text(f"{label[: AXIS_WIDTH - 1]:>{AXIS_WIDTH - 1}}┤", style=styles["dim"])
        if cursor is not None and 0 <= cursor < plot_width:
            line.append(body[:cursor], style=styles["accent"])
            line.append(body[cursor], style=styles["cursor"])
            line.append(body[cursor + 1 :], style=styles["accent"])
        else:
            line.append(body, style=styles["accent"])
        lines.append(line)
    axis = Text(" " * (AXIS_WIDTH - 1) + "└", style=styles["dim"])
    gaps = 0
    for cell in range(plot_width):
        empty = any(v != v for v in columns[2 * cell : 2 * cell + 2])
        gaps += sum(1 for v in columns[2 * cell : 2 * cell + 2] if v != v)
        axis.append("┄" if empty else "─", style=styles["warning"] if empty else styles["dim"])
    lines.append(axis)
    span_s = len(series.values) * series.step
    lines.append(Text(" " * AXIS_WIDTH + time_axis(plot_width, span_s), style=styles["dim"]))
    return Drawn(lines, columns, gaps, low, high)


class Chart(Widget):
    """One series as a braille chart; click a column to read its value and time."""

    DEFAULT_CSS = """
    Chart {
        height: 8;
        width: 1fr;
        padding: 0 1 0 0;
    }
    """

    PLOT_ROWS = 4

    cursor: reactive[int | None] = reactive(None)
    """The plot cell under the cursor (None: no cursor)."""

    class CursorMoved(Message):
        """A chart's cursor was set by a click; the history section moves every chart's."""

        def __init__(self, cell: int | None) -> None:
            super().__init__()
            self.cell = cell

    def __init__(self, spec: ChartSpec, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.spec = spec
        self.series = Series([], 1.0, 0.0)
        self.styles_by_level: dict[str, Style] = {}
        self.drawn: Drawn | None = None

    def show(self, series: Series, styles: dict[str, Style]) -> None:
        self.series = series
        self.styles_by_level = styles
        self.refresh()

    def render(self) -> Group:
        if not self.styles_by_level:
            return Group(Text(self.spec.title))
        self.drawn = draw_chart(
            self.spec,
            self.series,
            self.plot_width + AXIS_WIDTH,
            self.PLOT_ROWS,
            self.styles_by_level,
            self.cursor,
        )
        return Group(*self.drawn.lines)

    def watch_cursor(self) -> None:
        self.refresh()

    @property
    def plot_width(self) -> int:
        """Cells of the plot (the chart's width less the value labels)."""
        return max(4, (self.content_region.width or self.size.width) - AXIS_WIDTH)

    def on_click(self, event: events.Click) -> None:
        cell = event.x - AXIS_WIDTH
        self.post_message(self.CursorMoved(cell if 0 <= cell < self.plot_width else None))
