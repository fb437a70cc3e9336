"""Look and feel: fast typing into the filter, the mouse on every table, the help screen
generated from the keys themselves, themes chosen and kept."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from textual import events
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import Input, Static

from aiconsole.app import ConsoleApp
from aiconsole.screens.fleet import FleetScreen
from aiconsole.screens.health import HealthScreen
from aiconsole.screens.help import HelpScreen
from aiconsole.screens.host import HostScreen
from aiconsole.screens.jobs import JobsScreen
from aiconsole.screens.workloads import WorkloadsScreen
from aiconsole.widgets.fleet_table import FleetTable
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
