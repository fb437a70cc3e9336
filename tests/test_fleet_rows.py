"""The fleet table rebuilds only the summaries of hosts that changed, formats a row's cells
only when it is drawn, and still shows every host's current data age."""

from __future__ import annotations

import msgspec
import pytest

from aiconsole.fleet import Fleet
from aiconsole.model import FleetSnapshot, HostState
from aiconsole.screens import fleet as fleet_screen
from aiconsole.screens import fleet_rows
from aiconsole.screens.fleet import COLUMNS, FleetScreen, fleet_cells, sizing_cells
from aiconsole.summary import HostSummary, summarize
from aiconsole.widgets.fleet_table import Cell, FleetTable
from tests.synthetic import fleet_store


def _aged(snapshot: FleetSnapshot, by: float) -> FleetSnapshot:
    """The same hosts (same sample objects) some seconds later, as the store would give;
    each a second older than the one before it."""
    hosts = tuple(
        msgspec.structs.replace(h, age_s=None if h.age_s is None else h.age_s + by + i)
        for i, h in enumerate(snapshot.hosts)
    )
    return msgspec.structs.replace(snapshot, hosts=hosts)


def _cell_on_screen(table: FleetTable, line: int, column: int) -> str:
    start = sum(table._widths[:column]) + column  # the cells before it and their gaps
    return table.render_line(line).text[start : start + table._widths[column]].strip()


AGE = [c.key for c in COLUMNS].index("age")
UTIL = [c.key for c in COLUMNS].index("util")


async def test_unchanged_hosts_keep_their_rows_and_ages_move(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiconsole.app import ConsoleApp

    summarized: list[str] = []
    formatted: list[str] = []

    def counting_summary(state: HostState, found: tuple[int, str] | None = None) -> HostSummary:
        summarized.append(state.name)
        return summarize(state, found)

    def counting_cells(summary: HostSummary) -> tuple[Cell, ...]:
        formatted.append(summary.name)
        return fleet_cells(summary)

    monkeypatch.setattr(fleet_rows, "summarize", counting_summary)
    monkeypatch.setattr(fleet_screen, "fleet_cells", counting_cells)
    store = fleet_store(hosts=20, with_faults=False)
    first = store.snapshot()
    app = ConsoleApp(Fleet(store), collect=False, refresh_interval=3600)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        table = screen.query_one("#fleet", FleetTable)
        screen.render_snapshot(first)
        before = _cell_on_screen(table, 1, AGE)
        summarized.clear()
        formatted.clear()
        # A minute later, one host has a new sample; the others only grew older.
        later = _aged(first, 60.0)
        changed = later.hosts[4]
        assert changed.sample is not None
        new_sample = msgspec.structs.replace(changed.sample, seq=changed.sample.seq + 1)
        hosts = list(later.hosts)
        hosts[4] = msgspec.structs.replace(changed, sample=new_sample)
        later = msgspec.structs.replace(later, hosts=tuple(hosts))
        screen.render_snapshot(later)
        assert summarized == [changed.name]  # one summary rebuilt, not twenty
        assert formatted == []  # and no cell formatted before a row is drawn
        assert _cell_on_screen(table, 1, AGE) != before  # the age moved all the same
        assert formatted == []  # (an unchanged row keeps its formatted cells)
        _cell_on_screen(table, 5, UTIL)
        assert formatted == [changed.name]  # the changed row, once drawn
        assert table.rows[0].key == first.hosts[0].name
        # Sorting by age still orders by the current ages.
        oldest = max(later.hosts, key=lambda h: h.age_s or 0.0).name
        screen.view = screen.view.sorted_by("age")
        screen.view = screen.view.sorted_by("age")  # descending: oldest first
        screen.render_snapshot(later)
        assert table.rows[0].key == oldest


def test_sizing_cells_carry_the_text_of_every_column_fitted_to_its_values() -> None:
    for state in fleet_store(hosts=8).snapshot().hosts:
        summary = summarize(state)
        full, sizing = fleet_cells(summary), sizing_cells(summary)
        assert len(full) == len(sizing) == len(COLUMNS)
        for column, drawn, sized in zip(COLUMNS, full, sizing, strict=True):
            if column.width is None:
                assert sized[0] == drawn[0], column.key
