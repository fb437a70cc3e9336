"""The braille chart, drawn without a screen: a zero is a dot and a lost sample a blank, the
highest value of a column wins, the axes are labelled, the cursor reads one column."""

from __future__ import annotations

import math

from rich.style import Style

from aiconsole.history import Series
from aiconsole.widgets.chart import (
    AXIS_WIDTH,
    BRAILLE,
    ChartSpec,
    ago_text,
    columns_of,
    draw_chart,
    draw_plot,
    time_axis,
)

STYLES = {name: Style() for name in ("accent", "dim", "warning", "cursor")}
PERCENT = ChartSpec("util", lambda v: f"{v:.0f}%", 0.0, 100.0)
NAN = math.nan


def test_a_zero_draws_the_bottom_dot_and_a_gap_draws_nothing() -> None:
    (line,) = draw_plot([0.0, NAN], 1, 0.0, 100.0)
    assert ord(line) - BRAILLE == 0x40  # left column, bottom dot only; right column empty


def test_a_full_column_fills_every_dot_of_its_side() -> None:
    lines = draw_plot([100.0, 100.0], 2, 0.0, 100.0)
    assert lines == ["⣿", "⣿"]


def test_each_column_shows_the_highest_value_that_fell_in_it() -> None:
    first, second = columns_of([1.0, 9.0, 2.0, NAN, NAN, NAN], 2)
    assert first == 9.0 and math.isnan(second)
    assert columns_of([NAN, 3.0, NAN, NAN], 2)[0] == 3.0  # one sample in a column is enough
    assert columns_of([5.0], 3) == [5.0, 5.0, 5.0]  # fewer values than columns: stretched


def test_the_chart_states_now_min_max_and_marks_gaps_on_the_time_axis() -> None:
    values = [10.0] * 30 + [NAN] * 30 + [70.0] * 30 + [40.0] * 30
    drawn = draw_chart(PERCENT, Series(values, 1.0, 0.0), AXIS_WIDTH + 30, 4, STYLES)
    text = [line.plain for line in drawn.lines]
    assert text[0].startswith("util  now 40%  min 10%  max 70%")
    assert text[1].startswith("  100%┤") and text[4].startswith("    0%┤")
    axis = text[5][AXIS_WIDTH:]
    assert axis == "─" * 7 + "┄" * 8 + "─" * 15  # the second quarter had no sample
    assert drawn.gaps == 15 and (drawn.low, drawn.high) == (10.0, 70.0)
    assert text[6].rstrip().endswith("now") and "-2m" in text[6]


def test_the_cursor_reads_its_column_or_says_there_was_no_sample() -> None:
    values = [10.0] * 60 + [NAN] * 60
    series = Series(values, 1.0, 0.0)
    hit = draw_chart(PERCENT, series, AXIS_WIDTH + 20, 2, STYLES, cursor=2)
    assert "at -105s 10%" in hit.lines[0].plain  # cell 2 of 20 over two minutes
    miss = draw_chart(PERCENT, series, AXIS_WIDTH + 20, 2, STYLES, cursor=15)
    assert "no sample" in miss.lines[0].plain


def test_a_narrow_chart_keeps_its_title_on_one_line() -> None:
    spec = ChartSpec("a rather long chart title", str)
    drawn = draw_chart(spec, Series([1.0] * 10, 1.0, 0.0), AXIS_WIDTH + 10, 2, STYLES)
    assert len(drawn.lines[0].plain) <= AXIS_WIDTH + 10 and len(drawn.lines) == 5


def test_time_axis_labels_fall_on_round_times() -> None:
    assert time_axis(60, 3600).split() == ["-1h", "-50m", "-40m", "-30m", "-20m", "-10m", "now"]
    assert time_axis(30, 3600).split() == ["-1h", "-30m", "now"]
    assert time_axis(20, 180).split() == ["-2m", "now"]  # room for two labels
    assert ago_text(83) == "-83s" and ago_text(725) == "-12m05s" and ago_text(3720) == "-1h02m"
