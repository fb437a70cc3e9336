"""Look and feel: fast typing into the filter, the mouse on every table, the help screen
generated from the keys themselves, themes chosen and kept."""

from __future__ import annotations

import io
from typing import Any

import msgspec
import pytest
from rich.console import Console
from textual import events
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from aiconsole.app import ConsoleApp
from aiconsole.screens.fleet import FleetScreen
from aiconsole.screens.health import HealthScreen
from aiconsole.screens.help import HelpScreen
from aiconsole.screens.host import HostScreen
from aiconsole.screens.jobs import JobsScreen
from aiconsole.screens.workloads import WorkloadsScreen
from aiconsole.widgets.fleet_table import FleetTable
from tests.every_screen import every_screen_app
from tests.test_screens import SIZE, fleet_rows, on_screen, static_app, wait_for

KEY_NAMES = {"/": "slash", "-": "minus", "\r": "enter", " ": "space"}


async def type_fast(pilot: Pilot[Any], text: str) -> None:
    """Queue every key at once, as a terminal delivers a burst, then let the app catch up."""
    for character in text:
        key = KEY_NAMES.get(character, character)
        pilot.app.post_message(events.Key(key, None if key == "enter" else character))
    await pilot.pause()
    await pilot.pause()


# -- the filter keeps no keys it should not have ----------------------------------------------


async def test_slash_word_enter_typed_fast_keeps_the_filter_and_gives_the_table_the_keys() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_fast(pilot, "/node-03\r")
        screen = app.screen
        assert isinstance(screen, FleetScreen)  # Enter ended the filter; it opened nothing
        box = screen.query_one("#fleet-filter", Input)
        assert box.value == "node-03"
        assert isinstance(app.focused, FleetTable)
        assert [row[0] for row in fleet_rows(app)] == ["gpu-node-03"]
        await type_fast(pilot, "\r")  # now Enter opens the one host shown
        await wait_for(pilot, on_screen(app, HostScreen))
        assert isinstance(app.screen, HostScreen) and app.screen.host_name == "gpu-node-03"
        await pilot.press("escape")
        await wait_for(pilot, on_screen(app, FleetScreen))
        await type_fast(pilot, "g")  # groups the fleet; not a "g" typed into the filter
        assert box.value == "node-03"
        assert "grouped by status" in screen.state_line
        assert [row[0] for row in fleet_rows(app) if len(row) > 1] == ["gpu-node-03"]


async def test_a_host_opened_while_the_filter_has_the_keys_leaves_it_unfocused() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"node-05")
        fleet = app.screen
        assert isinstance(app.focused, Input)
        assert isinstance(app, ConsoleApp)
        app.open_host("gpu-node-05")  # as a click on a row would, with the box still open
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.press("escape")
        await wait_for(pilot, on_screen(app, FleetScreen))
        assert app.screen is fleet and isinstance(app.focused, FleetTable)
        await pilot.press("s")
        assert fleet.query_one("#fleet-filter", Input).value == "node-05"


# -- help ---------------------------------------------------------------------------------------


def screen_text(app: ConsoleApp) -> str:
    """What the terminal shows, as plain text (the same rendering as the SVG snapshots)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(
        app.screen._compositor.render_update(
            full=True, screen_stack=app._background_screens, simplify=True
        )
    )
    return console.export_text()


async def test_help_lists_every_key_of_every_screen() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, on_screen(app, HelpScreen))
        shown = str(app.screen.query_one("#help-text", Static).render())
        for cls in (FleetScreen, FleetTable, HostScreen, JobsScreen, HealthScreen):
            for binding in cls.BINDINGS:
                assert isinstance(binding, Binding)
                assert binding.description in shown, (cls.__name__, binding.key)
        for binding in (*WorkloadsScreen.BINDINGS, *ConsoleApp.BINDINGS):
            assert isinstance(binding, Binding)
            assert binding.description in shown, binding.key
        lines = shown.splitlines()
        for key, what in (("o", "Order processes"), ("d", "Drain node"), ("R", "Record")):
            assert any(line.split()[:1] == [key] and what in line for line in lines), key


async def test_help_at_80x24_scrolls_and_always_says_how_to_close() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, on_screen(app, HelpScreen))
        await pilot.pause()
        assert "Escape to close" in screen_text(app)
        await pilot.press("end")
        await pilot.pause()
        text = screen_text(app)
        assert "Escape to close" in text
        assert "says why." in text  # the last line of the list, scrolled into view


# -- the mouse ----------------------------------------------------------------------------------


async def test_one_click_on_a_fleet_row_opens_its_host() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#fleet", offset=(3, 3))  # line 0 is the titles: the third host
        await wait_for(pilot, on_screen(app, HostScreen))
        assert isinstance(app.screen, HostScreen) and app.screen.host_name == "gpu-node-03"


def column(table: DataTable[Any], index: int) -> list[str]:
    return [str(table.get_row_at(row)[index]) for row in range(table.row_count)]


async def open_screen(pilot: Pilot[Any], key: str, kind: type) -> None:
    await pilot.pause()
    await pilot.press(key)
    await wait_for(pilot, on_screen(pilot.app, kind))  # type: ignore[arg-type]
    await pilot.pause()


async def test_findings_a_click_opens_the_host_and_a_title_sorts() -> None:
    app = every_screen_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await open_screen(pilot, "f", HealthScreen)
        table = app.screen.query_one("#health-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 5)
        where = column(table, 1)
        await pilot.click("#health-table", offset=(2, 0))  # "Severity": a to z
        assert column(table, 0) == sorted(column(table, 0))
        await pilot.click("#health-table", offset=(12, 0))  # "Where"
        assert column(table, 1) == sorted(where)
        await pilot.click("#health-table", offset=(12, 0))  # again: the other way
        assert column(table, 1) == sorted(where, reverse=True)
        assert "Where ↓" in [str(c.label) for c in table.columns.values()]
        await pilot.click("#health-table", offset=(12, 2))  # one click on the second row
        await wait_for(pilot, on_screen(app, HostScreen))
        assert isinstance(app.screen, HostScreen) and app.screen.host_name == where_sorted(where)


def where_sorted(where: list[str]) -> str:
    return sorted(where, reverse=True)[1]


async def test_jobs_a_click_opens_the_node_or_the_jobs_node_and_titles_sort() -> None:
    app = every_screen_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await open_screen(pilot, "j", JobsScreen)
        jobs = app.screen.query_one("#jobs-table", DataTable)
        await wait_for(pilot, lambda: jobs.row_count == 3)
        time_x = sum(c.get_render_width(jobs) for c in jobs.ordered_columns[:3]) + 2
        await pilot.click("#jobs-table", offset=(time_x, 0))  # "Time": shortest first
        assert column(jobs, 3) == ["0.0s", "5m", "2h03m"]
        await pilot.click("#jobs-table", offset=(time_x, 0))
        assert column(jobs, 3) == ["2h03m", "5m", "0.0s"]
        app.publish_snapshot()  # a refresh keeps the order chosen
        await pilot.pause()
        assert column(jobs, 3) == ["2h03m", "5m", "0.0s"]
        await pilot.click("#nodes-table", offset=(3, 5))  # the fifth node
        await wait_for(pilot, on_screen(app, HostScreen))
        assert isinstance(app.screen, HostScreen) and app.screen.host_name == "gpu-node-05"
        await pilot.press("escape")
        await wait_for(pilot, on_screen(app, JobsScreen))
        await pilot.click("#jobs-table", offset=(3, 2))  # the job 81240, on gpu-node-01
        await wait_for(pilot, on_screen(app, HostScreen))
        assert isinstance(app.screen, HostScreen) and app.screen.host_name == "gpu-node-01"


async def test_workloads_a_click_on_a_node_or_a_pod_opens_its_host() -> None:
    app = every_screen_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await open_screen(pilot, "w", WorkloadsScreen)
        pods = app.screen.query_one("#kube-pods", DataTable)
        await wait_for(pilot, lambda: pods.row_count == 2)
        await pilot.click("#kube-pods", offset=(3, 2))
        await wait_for(pilot, on_screen(app, HostScreen))
        assert isinstance(app.screen, HostScreen) and app.screen.host_name == "gpu-node-01"
        await pilot.press("escape")
        await wait_for(pilot, on_screen(app, WorkloadsScreen))
        await pilot.click("#kube-nodes", offset=(3, 3))
        await wait_for(pilot, on_screen(app, HostScreen))
        assert isinstance(app.screen, HostScreen) and app.screen.host_name == "gpu-node-03"


# -- what stays readable at 80 and 100 columns --------------------------------------------------


@pytest.mark.parametrize("width", [80, 100])
async def test_fleet_at_80_and_100_columns_keeps_reasons_state_and_footer_whole(
    width: int,
) -> None:
    app = every_screen_app()
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s", "s", "g")
        await pilot.pause()
        text = screen_text(app)
        assert "ssh: connect timed out after 5 s" in text
        assert "no sample within 5 s" in text
        assert "6 hosts: 4 ok, 1 unreachable, 1 stale" in text
        flat = " ".join(text.split())  # the state line wraps where it must
        assert "findings: 5 critical, 32 warning" in flat
        assert "sorted by status ↑, grouped by status" in flat
        assert "? Help" in text.splitlines()[-1]
        for title in ("Host", "Status", "GPU", "Util", "GMem", "Temp", "Reason"):
            assert title in text.split()


async def test_jobs_at_80_columns_shows_time_restarts_and_the_footer() -> None:
    app = every_screen_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, "j", JobsScreen)
        text = screen_text(app)
        assert "Time" in text and "Restarts" in text
        lines = [line.split() for line in text.splitlines()]
        assert ["81234", "alice", "RUNNING", "2h03m", "2"] in [line[:5] for line in lines]
        assert "32/128" in text  # CPUs whole, not "32/12"
        assert "? Help" in text.splitlines()[-1]


async def test_a_node_reason_set_while_open_is_shown_whole() -> None:
    app = every_screen_app()
    store = app.fleet.store
    cluster = store.cluster("prod")
    assert cluster is not None

    def with_reason(reason: str) -> None:
        nodes = tuple(
            msgspec.structs.replace(
                node, reason=reason if node.name == "gpu-node-05" else None, reason_user=None
            )
            for node in cluster.nodes
        )
        store.put_cluster(msgspec.structs.replace(cluster, nodes=nodes))

    with_reason("plain")  # the reason when the screen opens: the column fits "plain"
    async with app.run_test(size=(160, 50)) as pilot:
        await open_screen(pilot, "j", JobsScreen)
        assert "plain" in screen_text(app)
        longer = "plain reason, set while the console was open"
        with_reason(longer)
        app.publish_snapshot()
        await pilot.pause()
        assert longer in screen_text(app)


async def test_host_a_click_on_a_title_sorts_that_table() -> None:
    app = static_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await open_screen(pilot, "enter", HostScreen)
        gpus = app.screen.query_one("#gpus-table", DataTable)
        await wait_for(pilot, lambda: gpus.row_count == 8)
        temp = [c.label.plain for c in gpus.ordered_columns].index("Temp")
        x = sum(c.get_render_width(gpus) for c in gpus.ordered_columns[:temp]) + 2
        await pilot.click("#gpus-table", offset=(x, 0))
        temps = [int(t.rstrip("C")) for t in column(gpus, temp)]
        assert temps == sorted(temps) and len(set(temps)) > 1
        await pilot.click("#gpus-table", offset=(x, 0))
        assert [int(t.rstrip("C")) for t in column(gpus, temp)] == sorted(temps, reverse=True)


async def test_findings_filter_typed_fast_applies_whole_and_enter_then_opens_the_host() -> None:
    app = every_screen_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await open_screen(pilot, "f", HealthScreen)
        screen = app.screen
        assert isinstance(screen, HealthScreen)
        table = screen.query_one("#health-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 5)
        await type_fast(pilot, "/gpu-node-04\r")
        await wait_for(pilot, lambda: screen.filter_text == "gpu-node-04")
        assert set(column(table, 1)) == {"gpu-node-04"}
        assert app.focused is table
        await type_fast(pilot, "\r")
        await wait_for(pilot, on_screen(app, HostScreen))
        assert isinstance(app.screen, HostScreen) and app.screen.host_name == "gpu-node-04"
