"""Text from hosts and schedulers on screen: shown as it is, never run as markup, never
reaching the terminal as control sequences."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from rich.text import Text
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from aiconsole.collectors.ssh import decode_line
from aiconsole.model import HostState, SlurmCluster, SlurmJob, SlurmNode, XidEvent
from aiconsole.screens.host import HostScreen
from aiconsole.store import FleetStore
from aiconsole.widgets.fleet_table import FleetTable
from tests.synthetic import NOW, fleet_store
from tests.test_host_screen_whole import utc  # noqa: F401  (fixture)
from tests.test_screens import on_screen, static_app, wait_for

HOST = "gpu-node-05"
OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"
CLEAR = "\x1b[2J"
RLO = "\u202e"
TALL = (160, 92)


def hostile_store(click_target: Path = Path("/nonexistent")) -> FleetStore:
    """The synthetic fleet, with the host's processes, XID detail, hostname and reason
    hostile, decoded through the same boundary as a probe's line over SSH."""
    store = fleet_store()
    state = store.get(HOST)
    assert state is not None and state.sample is not None
    tree: Any = msgspec.to_builtins(state.sample)
    screenshot = f"[@click=app.screenshot('pwned.svg','{click_target}')]CLICK ME[/]"
    commands = [
        "[/x]",
        screenshot,
        "[bold red]x",
        f"cat{OSC52}",
        f"{CLEAR}top",
        f"{RLO}fdp.exe",
        "[link=https://example.com]link[/link]",
    ]
    processes = [p for gpu in tree["gpu"]["gpus"] for p in gpu["processes"]]
    for process, command in zip(processes, commands, strict=False):
        process["command"] = command
    processes[0]["user"] = "[/user]"
    tree["gpu"]["xid_events"][0]["detail"] = f"[/detail]{OSC52}"
    tree["identity"]["hostname"] = f"[b]evil{CLEAR}"
    tree["gpu"]["gpus"][0]["name"] = "[/gpu]"
    sample = decode_line(json.dumps(tree).encode())
    store.put(
        HostState(
            name=HOST,
            status="ok",
            reason=f"[/reason]{OSC52}",
            received_at=NOW - 0.4,
            sample=sample,
        )
    )
    return store


def rendered(app: Any) -> str:
    """Every character of the screen as the terminal would get it."""
    return "\n".join(
        "".join(segment.text for segment in line) for line in app.screen._compositor.render_strips()
    )


def table_texts(table: DataTable[Any]) -> list[list[str]]:
    rows = [table.get_row_at(row) for row in range(table.row_count)]
    for row in rows:
        assert all(isinstance(cell, Text) for cell in row)  # never a markup string
    return [[cell.plain for cell in row] for row in rows]


async def test_host_text_is_shown_literally_with_controls_as_pictures(tmp_path: Path) -> None:
    app = static_app(hostile_store(tmp_path))
    async with app.run_test(size=TALL) as pilot:
        app.open_host(HOST)
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.pause()
        processes = table_texts(app.screen.query_one("#processes-table", DataTable))
        commands = [row[-1] for row in processes]
        for expected in (
            "[/x]",
            "[bold red]x",
            "cat␛]52;c;cm0gLXJmIH4=␇",
            "␛[2Jtop",
            "fdp.exe",
            "[link=https://example.com]link[/link]",
            f"[@click=app.screenshot('pwned.svg','{tmp_path}')]CLICK ME[/]",
        ):
            assert expected in commands
        assert "[/user]" in [row[2] for row in processes]
        xids = table_texts(app.screen.query_one("#xids-table", DataTable))
        assert "[/detail]␛]52;c;cm0gLXJmIH4=␇" in [row[-1] for row in xids]
        gpus = table_texts(app.screen.query_one("#gpus-table", DataTable))
        assert gpus[0][1] == "[/gpu]"
        identity = str(app.screen.query_one("#host-identity", Static).render())
        assert "[b]evil␛[2J" in identity and "[/reason]␛]52" in identity
        screen = rendered(app)
        assert "\x1b" not in screen and RLO not in screen
        assert "[bold red]x" in screen and "[/x]" in screen


def click_store(target: Path) -> FleetStore:
    """One process whose command line, read as markup, would save a screenshot when clicked."""
    store = fleet_store()
    state = store.get(HOST)
    assert state is not None and state.sample is not None
    tree: Any = msgspec.to_builtins(state.sample)
    command = f"[@click=app.screenshot('pwned.svg','{target}')]CLICK ME[/]"
    tree["gpu"]["gpus"][0]["processes"][0]["command"] = command
    sample = decode_line(json.dumps(tree).encode())
    store.put(msgspec.structs.replace(state, sample=sample))
    return store


async def test_a_click_on_a_hostile_command_runs_nothing(tmp_path: Path) -> None:
    app = static_app(click_store(tmp_path))
    async with app.run_test(size=TALL) as pilot:
        app.open_host(HOST)
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.pause()
        table = app.screen.query_one("#processes-table", DataTable)
        row = next(n for n in range(table.row_count) if "CLICK ME" in str(table.get_row_at(n)[-1]))
        command_column = len(table.ordered_columns) - 1
        region = table._get_cell_region(Coordinate(row, command_column))
        # The command's own characters, past the brackets: where the old, markup-parsed
        # cell put the clickable "CLICK ME".
        for x in range(region.x, region.x + 12):
            await pilot.click(table, offset=(x, region.y))
        await pilot.pause(0.3)
    assert list(tmp_path.iterdir()) == []


async def test_the_fleet_shows_a_hostile_reason_as_text() -> None:
    app = static_app(hostile_store())
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#fleet", FleetTable)
        row = next(row for row in table.rows if row.key == HOST)
        assert row.cells[-1][0] == "[/reason]␛]52;c;cm0gLXJmIH4=␇"
        assert "\x1b" not in rendered(app)


async def test_slurm_names_on_the_host_screen_are_text() -> None:
    store = fleet_store()
    node = SlurmNode(name=HOST, state="mixed", summary="mixed", reason="[/why]", reason_user="[b]")
    job = SlurmJob(
        job_id="42",
        user="[/who]",
        state="RUNNING",
        nodes=(HOST,),
        gpu_indices={HOST: (0, 1)},
    )
    store.put_cluster(SlurmCluster(name="prod", status="ok", nodes=(node,), jobs=(job,)))
    app = static_app(store)
    async with app.run_test(size=TALL) as pilot:
        app.open_host(HOST)
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.pause()
        line = str(app.screen.query_one("#host-slurm", Static).render())
        assert "([/why], by [b])" in line and "job 42 [/who] GPU 0,1" in line
        gpus = table_texts(app.screen.query_one("#gpus-table", DataTable))
        assert gpus[0][-1] == "42 [/who]"


@pytest.mark.parametrize("at", [1e300, -1e300, 1e18])
async def test_an_xid_time_no_calendar_holds_is_shown_as_a_number(at: float) -> None:
    store = fleet_store()
    state = store.get(HOST)
    assert state is not None and state.sample is not None
    event = XidEvent(xid=79, name="GPU has fallen off the bus", at=at, source="nvml")
    gpu = msgspec.structs.replace(state.sample.gpu, xid_events=(event,))
    sample = msgspec.structs.replace(state.sample, gpu=gpu)
    store.put(msgspec.structs.replace(state, sample=sample))
    app = static_app(store)
    async with app.run_test(size=TALL) as pilot:
        app.open_host(HOST)
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.pause()
        (row,) = table_texts(app.screen.query_one("#xids-table", DataTable))
        assert row[0] == f"t={at:.6g}" and row[2] == "79"
        assert app.is_running


@pytest.mark.usefixtures("utc")
def test_hostile_host_screen_snapshot(snap_compare: Callable[..., bool]) -> None:
    async def open_host(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        pilot.app.open_host(HOST)  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.pause()

    app = static_app(hostile_store(), once=True)
    assert snap_compare(app, terminal_size=(130, 70), run_before=open_host)


async def test_a_pasted_filter_reaches_the_state_line_cleaned() -> None:
    app = static_app()
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        app.screen.query_one("#fleet-filter", Input).value = f"gpu{OSC52}"
        await pilot.pause()
        line = app.screen.state_line  # type: ignore[attr-defined]
        assert "\x1b" not in line
        assert "gpu␛]52;c;cm0gLXJmIH4=␇" in line
