"""The fleet table rebuilds only the rows of hosts that changed, and still shows every host's
current data age (drawn late, for the rows on screen)."""

from __future__ import annotations

import msgspec
import pytest

from aiconsole.fleet import Fleet
from aiconsole.model import FleetSnapshot
from aiconsole.screens import fleet as fleet_screen
from aiconsole.screens.fleet import FleetScreen
from aiconsole.summary import HostSummary
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


def _age_on_screen(table: FleetTable, line: int) -> str:
    start = sum(table._widths[:3]) + 3  # host, status, findings and their gaps
    return table.render_line(line).text[start : start + table._widths[3]].strip()


async def test_unchanged_hosts_keep_their_rows_and_ages_move(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiconsole.app import ConsoleApp

    built: list[str] = []
    real = fleet_screen.fleet_cells

    def counting(summary: HostSummary) -> tuple[Cell, ...]:
        built.append(summary.name)
        return real(summary)

    monkeypatch.setattr(fleet_screen, "fleet_cells", counting)
    store = fleet_store(hosts=20, with_faults=False)
    first = store.snapshot()
    app = ConsoleApp(Fleet(store), collect=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        table = screen.query_one("#fleet", FleetTable)
        screen.render_snapshot(first)
        built.clear()
        assert first.hosts[0].age_s is not None
        before = _age_on_screen(table, 1)
        # A minute later, one host has a new sample; the others only grew older.
        later = _aged(first, 60.0)
        changed = later.hosts[4]
        assert changed.sample is not None
        new_sample = msgspec.structs.replace(changed.sample, seq=changed.sample.seq + 1)
        hosts = list(later.hosts)
        hosts[4] = msgspec.structs.replace(changed, sample=new_sample)
        later = msgspec.structs.replace(later, hosts=tuple(hosts))
        screen.render_snapshot(later)
        assert built == [changed.name]  # one row rebuilt, not twenty
        after = _age_on_screen(table, 1)
        assert after != before
        assert table.rows[0].key == first.hosts[0].name
        # Sorting by age still orders by the current ages.
        oldest = max(later.hosts, key=lambda h: h.age_s or 0.0).name
        screen.view = screen.view.sorted_by("age")
        screen.view = screen.view.sorted_by("age")  # descending: oldest first
        screen.render_snapshot(later)
        assert table.rows[0].key == oldest
