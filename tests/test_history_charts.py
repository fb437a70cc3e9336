"""The host screen's history charts, fed an hour of samples on a made-up clock (no sleeping):
the whole hour is drawn, zoom changes the span (keys and clicks), lost samples show as gaps,
and a click reads the value under the cursor."""

from __future__ import annotations

import math

from textual.pilot import Pilot
from textual.widgets import DataTable

from aiconsole.app import ConsoleApp
from aiconsole.fleet import Fleet
from aiconsole.screens.host import HostScreen
from aiconsole.widgets.chart import Chart
from aiconsole.widgets.history_section import HistorySection, ZoomBar
from tests.synthetic import fleet_store, wave_sample
from tests.test_screens import on_screen, wait_for

HOST = "gpu-node-05"
HOUR = 3600
GAP = range(1200, 1500)
"""Seconds (from an hour ago) in which no sample arrived: five minutes lost."""


def hour_app() -> ConsoleApp:
    """The fixed fleet with an hour of one-second samples of ``HOST``, less :data:`GAP`."""
    store = fleet_store()
    app = ConsoleApp(Fleet(store), collect=False)
    state = store.get(HOST)
    assert state is not None and state.sample is not None and state.received_at is not None
    for second in range(HOUR):
        if second in GAP:
            continue
        at = state.received_at - (HOUR - 1 - second)
        app.gpu_history.add_sample(HOST, wave_sample(state.sample, second, False), at)
    return app


def chart(app: ConsoleApp, name: str) -> Chart:
    return app.screen.query_one(f"#chart-{name}", Chart)


def draw(app: ConsoleApp, name: str) -> list[float]:
    """The time columns ``name`` draws now (NaN: no sample in that column)."""
    widget = chart(app, name)
    widget.render()
    assert widget.drawn is not None
    return widget.drawn.columns


async def show_host(app: ConsoleApp, pilot: Pilot[None]) -> HostScreen:
    app.open_host(HOST)
    await wait_for(pilot, on_screen(app, HostScreen))
    await pilot.pause()
    assert isinstance(app.screen, HostScreen)
    return app.screen


async def test_zoomed_out_the_chart_spans_the_whole_hour_with_the_lost_minutes_as_a_gap() -> None:
    app = hour_app()
    async with app.run_test(size=(120, 60)) as pilot:
        screen = await show_host(app, pilot)
        assert screen.span_s == 180  # opens on the last three minutes
        for _ in range(3):
            await pilot.press("minus")
        await pilot.pause()
        assert screen.span_s == HOUR
        columns = draw(app, "gpu-util")
        assert len(chart(app, "gpu-util").series.values) == HOUR
        # Drawn from an hour ago to now: the first and last columns hold samples.
        assert not math.isnan(columns[0]) and not math.isnan(columns[-1])
        # The lost five minutes, about 1/12 of the width, stay empty (and only they do).
        empty = [i for i, v in enumerate(columns) if math.isnan(v)]
        width = len(columns)
        assert empty, "no gap drawn for the lost samples"
        assert abs(len(empty) - width * len(GAP) / HOUR) <= 2
        assert all(abs(i / width - 1350 / HOUR) < 0.06 for i in empty)
        assert "┄" in draw_text(app, "gpu-util")  # the time axis marks the gap
        assert "-1h" in draw_text(app, "gpu-util")
        # The host's own charts cover the same hour.
        assert not math.isnan(draw(app, "host-cpu")[0])
        sparkline = str(screen.query_one("#gpu-history-table", DataTable).get_row_at(0)[1])
        assert "last 1 hour" in str(screen.query_one("#gpu-history-title").render())
        assert sparkline[:36].count(" ") < 36  # the sparklines follow the zoom too


async def test_zoom_keys_step_between_three_minutes_and_the_window() -> None:
    app = hour_app()
    async with app.run_test(size=(120, 60)) as pilot:
        screen = await show_host(app, pilot)
        spans = [screen.span_s]
        for key in ["minus"] * 4 + ["plus"] * 5:
            await pilot.press(key)
            spans.append(screen.span_s)
        assert spans == [180, 600, 1800, 3600, 3600, 1800, 600, 180, 180, 180]
        await pilot.pause()
        assert len(chart(app, "host-cpu").series.values) == 180
        assert not any(math.isnan(v) for v in draw(app, "host-cpu"))  # no gap in the last 3m


async def test_clicking_a_span_on_the_zoom_bar_zooms_to_it() -> None:
    app = hour_app()
    async with app.run_test(size=(120, 60)) as pilot:
        screen = await show_host(app, pilot)
        bar = screen.query_one(ZoomBar)
        bar.scroll_visible(animate=False)
        await pilot.pause()
        text = str(bar.render())
        await pilot.click(ZoomBar, offset=(text.index("30m") + 1, 0))
        await pilot.pause()
        assert screen.span_s == 1800
        assert "[30m]" in str(bar.render())


async def test_a_click_on_a_chart_reads_the_value_and_time_under_it() -> None:
    app = hour_app()
    async with app.run_test(size=(120, 60)) as pilot:
        screen = await show_host(app, pilot)
        target = chart(app, "gpu-power")
        target.scroll_visible(animate=False)
        await pilot.pause()
        await pilot.click(f"#{target.id}", offset=(10, 2))
        await pilot.pause()
        section = screen.query_one(HistorySection)
        assert section.cursor == 10 - 7  # the click's cell, past the value labels
        title = draw_text(app, "gpu-power").splitlines()[0]
        assert " at -" in title and "W" in title
        assert all(c.cursor == section.cursor for c in screen.query(Chart))  # one cursor
        await pilot.press("h")
        assert section.cursor == 2


async def test_g_steps_the_gpu_the_charts_show() -> None:
    app = hour_app()
    async with app.run_test(size=(120, 60)) as pilot:
        screen = await show_host(app, pilot)
        assert chart(app, "gpu-util").spec.title.startswith("GPU 0 ")
        await pilot.press("g")
        await pilot.pause()
        assert screen.query_one(HistorySection).gpu == 1
        assert chart(app, "gpu-util").spec.title.startswith("GPU 1 ")


def draw_text(app: ConsoleApp, name: str) -> str:
    widget = chart(app, name)
    widget.render()
    assert widget.drawn is not None
    return "\n".join(line.plain for line in widget.drawn.lines)


async def test_zoom_stops_at_the_configured_window() -> None:
    store = fleet_store()
    app = ConsoleApp(Fleet(store), collect=False, history_window=600.0)
    assert app.gpu_history.window_s == 600.0
    async with app.run_test(size=(120, 60)) as pilot:
        screen = await show_host(app, pilot)
        assert screen.zoom_levels == [180.0, 600.0]
        for _ in range(3):
            await pilot.press("minus")
        assert screen.span_s == 600.0
        await pilot.pause()
        assert "(last 10m of 10m)" in str(screen.query_one("#history-title").render())
