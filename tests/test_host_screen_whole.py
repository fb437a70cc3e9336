"""The whole host screen, not just its top: every section's picture, and every column fed by
its own field (a swapped rx/tx, read/write or used/free, or a blanked user or XID detail,
fails here)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from aiconsole import units
from aiconsole.model import HostSample
from aiconsole.screens.host import HostScreen
from tests.test_screens import on_screen, static_app, wait_for

HOST = "gpu-node-05"
"""GPUs with processes, a lost GPU, two XIDs; the recorded host's disks, links and mounts."""
TALL = (120, 92)
"""Tall enough that the host screen's last section (InfiniBand) is on screen, unscrolled."""


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """XID times are shown in local time: the picture is taken in UTC on every machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("utc")
def test_whole_host_screen_snapshot(snap_compare: Callable[..., bool]) -> None:
    async def open_host(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        pilot.app.open_host(HOST)  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(static_app(once=True), terminal_size=TALL, run_before=open_host)


def test_host_screen_scrolled_to_the_end_snapshot(snap_compare: Callable[..., bool]) -> None:
    async def open_host_and_scroll(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        pilot.app.open_host(HOST)  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.pause()  # the sections fill in from the first snapshot: let them lay out
        pilot.app.screen.query_one("#host-body").scroll_end(animate=False, immediate=True)
        await pilot.pause()

    assert snap_compare(
        static_app(once=True), terminal_size=(100, 30), run_before=open_host_and_scroll
    )


def columns(table: DataTable[Any]) -> list[dict[str, str]]:
    """Each row as {column title: the text shown}."""
    titles = [str(column.label) for column in table.ordered_columns]
    return [
        dict(zip(titles, (str(cell).strip() for cell in table.get_row_at(row)), strict=True))
        for row in range(table.row_count)
    ]


def pairs(*values: int | None) -> str:
    return "/".join(units.NA if v is None else str(v) for v in values)


async def test_every_column_shows_its_own_field() -> None:
    app = static_app()
    state = app.fleet.store.get(HOST)
    assert state is not None and state.sample is not None
    sample: HostSample = state.sample
    async with app.run_test(size=TALL) as pilot:
        app.open_host(HOST)
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.pause()
        screen = app.screen

        def table(key: str) -> list[dict[str, str]]:
            return columns(screen.query_one(f"#{key}-table", DataTable))

        # The fixture's values differ pairwise, so a swap shows.
        eno1 = next(nic for nic in sample.nics if nic.name == "eno1")
        assert eno1.rx_bytes_per_s != eno1.tx_bytes_per_s
        nics = {row["NIC"]: row for row in table("nics")}
        for nic in sample.nics:
            row = nics[nic.name]
            assert row["Rx"] == units.rate_short(nic.rx_bytes_per_s)
            assert row["Tx"] == units.rate_short(nic.tx_bytes_per_s)
            assert row["Err rx/tx"] == pairs(nic.rx_errors, nic.tx_errors)
            assert row["Drop rx/tx"] == pairs(nic.rx_drops, nic.tx_drops)

        disks = {row["Disk"]: row for row in table("disks")}
        assert any(d.read_bytes_per_s != d.write_bytes_per_s for d in sample.disks)
        for disk in sample.disks:
            row = disks[disk.name]
            assert row["Read"] == units.rate_short(disk.read_bytes_per_s)
            assert row["Write"] == units.rate_short(disk.write_bytes_per_s)
            assert row["r/s"] == units.number(disk.read_iops)
            assert row["w/s"] == units.number(disk.write_iops)

        mounts = {row["Mount"]: row for row in table("filesystems")}
        for fs in sample.filesystems:
            assert fs.used_bytes != fs.free_bytes
            row = mounts[fs.mount]
            assert row["Size"] == units.bytes_short(fs.size_bytes)
            assert row["Used"] == units.bytes_short(fs.used_bytes)
            assert row["Free"] == units.bytes_short(fs.free_bytes)
            assert row["Type"] == fs.fstype

        ports = {row["Port"]: row for row in table("ib")}
        for port in sample.ib_ports:
            row = ports[f"{port.device}/{port.port}"]
            assert row["Rx"] == units.rate_short(port.rx_bytes_per_s)
            assert row["Tx"] == units.rate_short(port.tx_bytes_per_s)
            assert row["SymErr"] == pairs(port.symbol_errors)
            assert row["LinkDown"] == pairs(port.link_downed)

        shown = {(row["GPU"], row["PID"]): row for row in table("processes")}
        processes = [(gpu.index, p) for gpu in sample.gpu.gpus for p in gpu.processes]
        assert len(shown) == len(processes)
        for index, process in processes:
            row = shown[(str(index), str(process.pid))]
            assert process.user and row["User"] == process.user
            assert process.command and row["Command"] == process.command
            assert row["GPU mem"] == units.bytes_short(process.gpu_memory_bytes)
            assert row["RSS"] == units.bytes_short(process.rss_bytes)

        xids = table("xids")
        events = list(reversed(sample.gpu.xid_events))  # newest first
        assert [row["XID"] for row in xids] == [str(e.xid) for e in events]
        assert [row["Meaning"] for row in xids] == [e.name for e in events]
        assert [row["Detail"] for row in xids] == [e.detail or "" for e in events]
        assert any(e.detail for e in events)

        gpus = {row["GPU"]: row for row in table("gpus")}
        for gpu in sample.gpu.gpus:
            row = gpus[str(gpu.index)]
            if gpu.lost:
                assert row["Name"] == "GPU is lost"
                continue
            assert row["Util"].endswith(units.percent(gpu.util_gpu_percent))
            assert row["Temp"] == units.number(gpu.temperature_c, "C")
            assert row["SM"] == units.number(gpu.sm_clock_mhz, "MHz")
            share = 100 * (gpu.memory_used_bytes or 0) / (gpu.memory_total_bytes or 1)
            assert row["Memory"].endswith(units.percent(share))

        memory = str(screen.query_one("#host-resources", Static).render())
        used, total = sample.memory.used_bytes, sample.memory.total_bytes
        assert f"{units.bytes_short(used)} used of {units.bytes_short(total)}" in memory
