"""Look and feel: fast typing into the filter, the mouse on every table, the help screen
generated from the keys themselves, themes chosen and kept."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.widgets import Input

from aiconsole.app import ConsoleApp
from aiconsole.screens.fleet import FleetScreen
from aiconsole.screens.host import HostScreen
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
        assert "grouped by status" in screen.sub_title
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
