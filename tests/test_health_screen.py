"""The health screen: findings worst first with the job they hit, filter, Enter to the host,
and ``d`` opening the drain with the reason taken from the finding."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Input

from aiconsole.app import ConsoleApp
from aiconsole.fleet import Fleet
from aiconsole.health import Thresholds
from aiconsole.health.monitor import HealthMonitor
from aiconsole.model import HostState, SlurmCluster, SlurmJob, SlurmNode
from aiconsole.screens.health import HealthScreen
from aiconsole.screens.host import HostScreen
from aiconsole.screens.plan import ReasonScreen
from tests.synthetic import NOW, fleet_store
from tests.test_screens import cell_texts, on_screen, wait_for

# In tests/synthetic.py the fifth host has GPU 3 lost with an XID 79, 30 s before NOW.
FAULTY = "gpu-node-05"
JOB = SlurmJob(
    job_id="81234",
    name="llama",
    user="alice",
    state="RUNNING",
    nodes=(FAULTY,),
    gpu_indices={FAULTY: (3,)},
)


def app_with_cluster() -> ConsoleApp:
    store = fleet_store()
    store.put_cluster(
        SlurmCluster(
            name="prod",
            status="ok",
            nodes=(SlurmNode(name=FAULTY, state="mixed", summary="mixed"),),
            jobs=(JOB,),
        )
    )
    # A host whose reason tries markup and a terminal escape: shown as text.
    store.put(HostState(name="gpu-node-02", status="unreachable", reason="[/x] \x1b]52;c;aGk=\x07"))
    fleet = Fleet(store, health=HealthMonitor(Thresholds(raise_after=1), clock=lambda: NOW))
    return ConsoleApp(fleet, collect=False)


def rows(app: ConsoleApp) -> list[list[str]]:
    table = app.screen.query_one("#health-table", DataTable)
    return [cell_texts(table, n) for n in range(table.row_count)]


async def test_findings_are_listed_worst_first_with_the_job_they_hit() -> None:
    app = app_with_cluster()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("f")
        await wait_for(pilot, on_screen(app, HealthScreen))
        await wait_for(pilot, lambda: bool(rows(app)))
        table = rows(app)
        severities = [row[0] for row in table]
        assert severities == sorted(severities, key=["critical", "warning", "info"].index)
        xid = next(row for row in table if "XID 79" in row[3])
        assert xid[:3] == ["critical", FAULTY, "gpu 3:xid79"]
        assert xid[3] == "XID 79 (GPU has fallen off the bus) on GPU 3 (job 81234 alice)"
        assert xid[4:6] == ["job 81234 alice", "drain"]
        hostile = next(row for row in table if row[1] == "gpu-node-02")
        assert hostile[3].startswith("unreachable: [/x] ␛]52;c;aGk=␇")


async def test_filter_then_enter_opens_the_host() -> None:
    app = app_with_cluster()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("f")
        await wait_for(pilot, on_screen(app, HealthScreen))
        await pilot.press("slash", *"alice", "enter")
        await wait_for(pilot, lambda: len(rows(app)) >= 1)
        assert all("alice" in " ".join(row) for row in rows(app))
        await pilot.press("enter")
        await wait_for(pilot, on_screen(app, HostScreen))
        assert app.screen.host_name == FAULTY  # type: ignore[attr-defined]


async def test_d_asks_for_the_drain_reason_filled_in_from_the_finding() -> None:
    app = app_with_cluster()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("f")
        await wait_for(pilot, on_screen(app, HealthScreen))
        await wait_for(pilot, lambda: bool(rows(app)))
        table = app.screen.query_one("#health-table", DataTable)
        target = next(n for n, row in enumerate(rows(app)) if "XID 79" in row[3])
        table.move_cursor(row=target)
        await pilot.press("d")
        await wait_for(pilot, on_screen(app, ReasonScreen))
        box: Any = app.screen.query_one("#reason-input", Input)
        assert box.value == "xid 79 on GPU 3 (job 81234 alice)"


async def test_fleet_rows_and_title_carry_the_findings() -> None:
    from aiconsole.widgets.fleet_table import FleetTable

    app = app_with_cluster()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#fleet", FleetTable)
        rows = {row.key: [text for text, _ in table.cells_of(row)] for row in table.rows}
        findings = app.fleet_snapshot.findings  # type: ignore[union-attr]
        assert rows["gpu-node-02"][2] == "1"  # unreachable
        about_faulty = [f for f in findings if f.subject.host == FAULTY]
        assert rows[FAULTY][2] == str(len(about_faulty))
        assert {"gpu.xid_critical", "gpu.lost", "gpu.orphan_process"} <= {
            f.rule for f in about_faulty
        }
        assert rows["gpu-node-01"][2] == "2"  # a pending remap, an NVLink down
        critical = sum(f.severity == "critical" for f in findings)
        assert f"findings: {critical} critical" in app.screen.state_line  # type: ignore[attr-defined]
        await pilot.press("s", "s")  # Host, then Status ... until the findings column
        while app.screen.view.sort != "findings":  # type: ignore[attr-defined]
            await pilot.press("s")
        rows_in_order = [row.key for row in table.rows]
        assert rows_in_order[0] in (FAULTY, "gpu-node-02")  # a critical one first


async def test_the_host_screen_lists_the_hosts_findings() -> None:
    from textual.widgets import Static

    from aiconsole.screens.host import HostScreen

    app = app_with_cluster()
    async with app.run_test(size=(160, 60)) as pilot:
        app.open_host(FAULTY)
        await wait_for(pilot, on_screen(app, HostScreen))
        await pilot.pause()
        text = str(app.screen.query_one("#host-findings", Static).render())
        lines = text.splitlines()
        assert lines[0].startswith("Findings (")
        assert lines[1].split()[0] == "critical"
        assert "XID 79 (GPU has fallen off the bus) on GPU 3 (job 81234 alice)" in text
        assert "gpu-node-02" not in text  # another host's finding
