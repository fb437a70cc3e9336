"""The TUI: Pilot tests of behaviour, and SVG snapshots of both screens at 80x24."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from aiconsole.app import ConsoleApp
from aiconsole.collectors.local import LocalCollector
from aiconsole.fleet import Fleet
from aiconsole.history import History
from aiconsole.screens.fleet import FleetScreen
from aiconsole.screens.help import HelpScreen
from aiconsole.screens.host import HostScreen
from aiconsole.store import FleetStore
from aiconsole.widgets.fleet_table import FleetTable
from tests.conftest import NvmlConfig
from tests.synthetic import fleet_store, seed_history

SIZE = (80, 24)


def static_app(store: FleetStore | None = None, *, once: bool = False) -> ConsoleApp:
    """The app over a fixed fleet, without collectors (deterministic), with made-up history.

    ``once``: publish the fleet once only, for pictures: the health rules raise a finding
    after three refreshes, so a one-second refresh timer would make a picture depend on how
    fast the machine is."""
    store = store or fleet_store()
    app = ConsoleApp(Fleet(store), collect=False, refresh_interval=3600.0 if once else 1.0)
    app.gpu_history = History(interval_s=1.0)
    seed_history(app.gpu_history, store)
    return app


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], limit: float = 15) -> None:
    """Let the app run until ``condition`` holds (a bound on waiting, not a timing check)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        assert loop.time() < deadline, "condition never became true"
        await pilot.pause(0.05)


def on_screen(app: ConsoleApp, kind: type) -> Callable[[], bool]:
    """True once ``kind`` is the active screen and mounted (its widgets exist)."""
    return lambda: isinstance(app.screen, kind) and app.screen.is_mounted


def fleet_rows(app: ConsoleApp) -> list[list[str]]:
    table = app.screen.query_one("#fleet", FleetTable)
    return [[text for text, _ in table.cells_of(row)] for row in table.rows]


def cell_texts(table: DataTable[Any], row: int) -> list[str]:
    return [str(cell).strip() for cell in table.get_row_at(row)]


# -- behaviour ---------------------------------------------------------------------------------


async def test_fleet_lists_every_host_with_its_status_and_reason() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows = fleet_rows(app)
        assert len(rows) == 6
        assert [r[0] for r in rows] == [f"gpu-node-0{n}" for n in range(1, 7)]
        assert [r[1] for r in rows] == ["ok", "ok", "unreachable", "stale", "ok", "ok"]
        assert rows[2][-1] == "ssh: connect timed out after 5 s"
        assert rows[3][3] == "42s"  # data age
        assert rows[0][6] == "8"  # GPU count
        assert rows[5][6] == "–"  # no driver: no GPUs, not zero


async def test_s_sorts_by_each_column_and_shift_s_reverses() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("s", "s")  # host, then status: worst first
        assert [r[1] for r in fleet_rows(app)] == ["unreachable", "stale", "ok", "ok", "ok", "ok"]
        await pilot.press("S")
        assert [r[1] for r in fleet_rows(app)][-2:] == ["stale", "unreachable"]
        assert "sorted by status ↓" in app.screen.state_line  # type: ignore[attr-defined]


async def test_clicking_a_column_title_sorts_by_it_and_missing_values_stay_last() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#fleet", FleetTable)
        x = table.column_left("util")
        assert x is not None
        x += 1
        await pilot.click("#fleet", offset=(x, 0))
        utils = [r[6] for r in fleet_rows(app)]
        assert table.sorted_column == "util"
        numbers = [int(u.rstrip("%")) for u in utils if u != "–"]
        assert numbers == sorted(numbers) and utils[-2:] == ["–", "–"]
        await pilot.click("#fleet", offset=(x, 0))
        numbers = [int(r[6].rstrip("%")) for r in fleet_rows(app) if r[6] != "–"]
        assert numbers == sorted(numbers, reverse=True)
        assert [r[6] for r in fleet_rows(app)][-2:] == ["–", "–"]


async def test_slash_filters_by_name_or_status_and_escape_clears() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"unreach")
        assert [r[0] for r in fleet_rows(app)] == ["gpu-node-03"]
        await pilot.press("enter")  # keep the filter, back to the table
        assert isinstance(app.focused, FleetTable)
        assert "1 shown" in app.screen.state_line  # type: ignore[attr-defined]
        await pilot.press("enter")  # opens the one host shown
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.press("escape")
        await wait_for(pilot, on_screen(app, FleetScreen))
        await pilot.press("escape")
        assert len(fleet_rows(app)) == 6
        await pilot.press("slash", *"!ok")
        assert [r[1] for r in fleet_rows(app)] == ["unreachable", "stale"]


async def test_g_groups_by_status_then_inventory_group_with_headings_the_cursor_skips() -> None:
    store = fleet_store()
    racks = {"gpu-node-01": "rack1", "gpu-node-02": "rack2", "gpu-node-03": "rack1"}
    app = ConsoleApp(Fleet(store, group_of=racks), collect=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#fleet", FleetTable)
        await pilot.press("g")
        headings = [row.cells[0][0] for row in table.rows if row.heading]
        assert headings == ["unreachable (1 host)", "stale (1 host)", "ok (4 hosts)"]
        assert table.cursor_key == "gpu-node-01"
        await pilot.press("home")
        assert table.cursor_key == "gpu-node-03"  # the first host, not the heading above it
        await pilot.press("down")
        assert table.cursor_key == "gpu-node-04"  # across the "stale" heading
        await pilot.press("g")
        headings = [row.cells[0][0] for row in table.rows if row.heading]
        assert headings == ["rack1 (2 hosts)", "rack2 (1 host)", "(no group) (3 hosts)"]
        await pilot.press("g")
        assert not any(row.heading for row in table.rows)


async def test_enter_opens_the_host_and_escape_returns() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter")
        await wait_for(pilot, on_screen(app, HostScreen))
        assert isinstance(app.screen, HostScreen) and app.screen.host_name == "gpu-node-02"
        gpus = app.screen.query_one("#gpus-table", DataTable)
        assert gpus.row_count == 8
        processes = app.screen.query_one("#processes-table", DataTable)
        assert processes.row_count == 16
        ib = app.screen.query_one("#ib-table", DataTable)
        assert [cell_texts(ib, n)[:3] for n in range(ib.row_count)] == [
            ["mlx5_0/1", "ACTIVE", "LinkUp"],
            ["mlx5_1/1", "DOWN", "Disabled"],
        ]
        await pilot.press("escape")
        await wait_for(pilot, on_screen(app, FleetScreen))


async def test_host_without_driver_says_so() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_host("gpu-node-06")
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.pause()
        assert not app.screen.query_one("#gpus-table", DataTable).display
        empty = app.screen.query_one("#gpus-empty", Static)
        assert "no driver" in str(empty.render())


async def test_host_screen_lists_xids_newest_first_and_highlights_them() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_host("gpu-node-05")  # the host whose GPU 3 fell off the bus
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.pause()
        table = app.screen.query_one("#xids-table", DataTable)
        assert table.display and table.row_count == 2
        newest, older = cell_texts(table, 0), cell_texts(table, 1)
        assert newest[1:5] == ["3", "79", "GPU has fallen off the bus", "NVML"]
        assert older[1:5] == ["2", "94", "contained ECC error", "kernel log"]
        assert older[0].startswith("20")  # a date and time, not a number of seconds
        xid_cell = table.get_row_at(0)[2]
        assert xid_cell.style == app.screen.palette.level("error")


async def test_host_without_xids_says_so_and_why_history_is_missing() -> None:
    store = fleet_store()
    state = store.get("gpu-node-01")
    assert state is not None and state.sample is not None
    why = "kernel log not readable (/dev/kmsg: Operation not permitted)"
    gpu = msgspec.structs.replace(state.sample.gpu, unavailable={"xid_history": why})
    sample = msgspec.structs.replace(state.sample, gpu=gpu)
    store.put(msgspec.structs.replace(state, sample=sample))
    app = static_app(store)
    async with app.run_test(size=SIZE) as pilot:
        app.open_host("gpu-node-01")
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.pause()
        assert not app.screen.query_one("#xids-table", DataTable).display
        assert "no XID events" in str(app.screen.query_one("#xids-empty", Static).render())
        assert why in str(app.screen.query_one("#xids-title", Static).render())


async def test_gpu_history_sparklines_follow_the_recorded_samples() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_host("gpu-node-05")
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.pause()
        table = app.screen.query_one("#gpu-history-table", DataTable)
        assert table.row_count == 8
        util = str(table.get_row_at(0)[1])
        assert len(set(util[:36]) - {" "}) > 3  # a wave, several block heights
        lost_power = str(table.get_row_at(3)[2])
        assert lost_power[30:36] == " " * 6  # the lost GPU's last samples are blanks


async def test_process_table_orders_by_gpu_memory_on_o() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_host("gpu-node-01")
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.pause()
        table = app.screen.query_one("#processes-table", DataTable)

        def column(index: int) -> list[str]:
            return [cell_texts(table, row)[index] for row in range(table.row_count)]

        assert column(0) == sorted(column(0), key=int)  # by GPU first
        await pilot.press("o")
        await pilot.pause()
        assert "by GPU memory" in str(app.screen.query_one("#processes-title", Static).render())
        gpu_memory = [float(value.rstrip("GiB")) for value in column(3)]
        assert gpu_memory == sorted(gpu_memory, reverse=True)
        assert column(0) != sorted(column(0), key=int)  # no longer grouped by GPU


async def test_help_opens_and_closes() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, on_screen(app, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, on_screen(app, FleetScreen))


async def test_q_quits() -> None:
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0
        assert not app.is_running


async def test_live_refresh_follows_the_gpus(nvml_in_process: NvmlConfig) -> None:
    nvml_in_process.set(device_count=2).gpu(0, util_gpu=10).gpu(1, util_gpu=20)
    store = FleetStore()
    collector = LocalCollector(store, name="here", interval=0.1)
    app = ConsoleApp(Fleet(store, [collector]), refresh_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(fleet_rows(app)) == 1 and fleet_rows(app)[0][6] == "2")
        app.open_host("here")
        await wait_for(pilot, on_screen(app, HostScreen))
        gpus = app.screen.query_one("#gpus-table", DataTable)
        await wait_for(pilot, lambda: gpus.row_count == 2)
        assert cell_texts(gpus, 0)[2].endswith("10%")
        nvml_in_process.gpu(0, util_gpu=95)
        await wait_for(pilot, lambda: cell_texts(gpus, 0)[2].endswith("95%"))
    collector.close()


async def test_a_scripted_xid_reaches_the_host_screen(nvml_in_process: NvmlConfig) -> None:
    nvml_in_process.set(device_count=2).gpu(0).gpu(1)
    store = FleetStore()
    collector = LocalCollector(store, name="here", interval=0.2)
    app = ConsoleApp(Fleet(store, [collector]), refresh_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(fleet_rows(app)) == 1 and fleet_rows(app)[0][6] == "2")
        app.open_host("here")
        await wait_for(pilot, on_screen(app, HostScreen))
        xids = app.screen.query_one("#xids-table", DataTable)
        nvml_in_process.gpu(1, xid="79")
        await wait_for(pilot, lambda: xids.display and xids.row_count == 1)
        assert cell_texts(xids, 0)[1:5] == ["1", "79", "GPU has fallen off the bus", "NVML"]
    collector.close()


async def test_a_hung_probe_never_blocks_the_keyboard() -> None:
    from aiconsole import probe
    from tests.test_probe_parsers import NoGpus

    real = probe.Sampler(gpu_reader=NoGpus())
    release = threading.Event()

    class HangingSampler:
        calls = 0

        def sample(self) -> dict[str, Any]:
            self.calls += 1
            if self.calls > 1:
                release.wait(30)  # as an NVML call stuck in the driver
            return real.sample()

    store = FleetStore()
    collector = LocalCollector(
        store, name="here", sampler=HangingSampler(), interval=0.1, timeout=0.3
    )
    app = ConsoleApp(Fleet(store, [collector]), refresh_interval=0.1)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: len(fleet_rows(app)) == 1)
            await pilot.press("enter")
            await wait_for(pilot, on_screen(app, HostScreen))
            await pilot.press("question_mark")
            await wait_for(pilot, on_screen(app, HelpScreen))
            await pilot.press("escape", "escape")
            await wait_for(pilot, on_screen(app, FleetScreen))
            await wait_for(pilot, lambda: fleet_rows(app)[0][1] == "stale")
    finally:
        release.set()
        collector.close()


# -- pictures ----------------------------------------------------------------------------------


def test_fleet_screen_snapshot(snap_compare: Callable[..., bool]) -> None:
    assert snap_compare(static_app(), terminal_size=SIZE)


def test_host_screen_snapshot(snap_compare: Callable[..., bool]) -> None:
    async def open_host(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("down", "down", "down", "down", "enter")
        await pilot.pause()

    assert snap_compare(static_app(once=True), terminal_size=SIZE, run_before=open_host)


def test_help_snapshot(snap_compare: Callable[..., bool]) -> None:
    assert snap_compare(static_app(), terminal_size=SIZE, press=["question_mark"])


@pytest.mark.parametrize("size", [(120, 40)])
def test_host_screen_wide_snapshot(
    snap_compare: Callable[..., bool], size: tuple[int, int]
) -> None:
    async def open_host(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(static_app(once=True), terminal_size=size, run_before=open_host)


async def test_gpu_health_shows_what_needs_attention() -> None:
    app = static_app()
    async with app.run_test(size=(140, 60)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, on_screen(app, HostScreen))
        await wait_for(pilot, lambda: app.screen.query_one("#gpu-health-table").row_count == 8)
        table = app.screen.query_one("#gpu-health-table", DataTable)
        power_capped, ecc, link_down = (cell_texts(table, n) for n in (1, 2, 3))
        assert power_capped[-1] == "sw_power_cap"
        assert (ecc[6], ecc[7]) == ("12/0", "1/0 reset!")
        assert (link_down[5], link_down[-1]) == ("17/18", "hw_slowdown")
        # NVLink payload per second over the links that are up: 17 x 1 GiB in, half out.
        assert (cell_texts(table, 0)[8], link_down[8]) == ("4.5G/2.2G", "17.0G/8.5G")
        error = app.screen.palette.level("error")
        assert table.get_row_at(3)[5].style == error  # a link down is red
        processes = app.screen.query_one("#processes-table", DataTable)
        assert cell_texts(processes, 0)[4:6] == ["98%", "6.0G"]
