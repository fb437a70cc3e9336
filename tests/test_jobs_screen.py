"""The Slurm jobs screen and the action modal over a cluster built from recorded output:
outside text shown as text (never markup), keys acting on what is highlighted, a stale
cluster's plan asking twice, and SVG snapshots of both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.policy import Policy
from aiconsole.app import ConsoleApp
from aiconsole.collectors.slurm import SlurmCollector
from aiconsole.fleet import Fleet
from aiconsole.model import SlurmCluster
from aiconsole.screens.jobs import JobsScreen
from aiconsole.screens.plan import PlanScreen, ReasonScreen
from aiconsole.slurm.runner import LocalRunner
from aiconsole.store import FleetStore
from tests.test_screens import SIZE, wait_for
from tests.test_slurm_parse import recorded_cluster

WIDE = (120, 32)


def cluster(**changes: Any) -> SlurmCluster:
    recorded = recorded_cluster()
    # A job name any cluster user can choose (sbatch -J): once a markup error that ended the TUI.
    jobs = tuple(
        msgspec.structs.replace(job, name="[/x] [bold]run\x1b]52;c;aGk=\x07")
        if job.job_id == "1"
        else job
        for job in recorded.jobs
    )
    return msgspec.structs.replace(recorded, **{"jobs": jobs, "collected_at": 1000.0, **changes})


def jobs_app(state: SlurmCluster | None, tmp_path: Path | None = None) -> ConsoleApp:
    # A fixed clock: the cluster's data age (shown for every cluster) is part of the pictures.
    store = FleetStore(clock=lambda: 1003.0)
    clusters = []
    if state is not None:
        clusters = [SlurmCollector(state.name, LocalRunner(), store)]
        store.put_cluster(state)
    audit = AuditLog((tmp_path or Path("/nonexistent")) / "audit.jsonl", syslog="off")
    return ConsoleApp(Fleet(store, [], clusters=clusters), collect=False, audit=audit)


def texts(table: DataTable[Any], row: int) -> list[str]:
    return [str(cell) for cell in table.get_row_at(row)]


async def test_names_and_reasons_are_shown_as_text_never_markup() -> None:
    app = jobs_app(cluster())
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        jobs = app.screen.query_one("#jobs-table", DataTable)
        await wait_for(pilot, lambda: jobs.row_count == 4)
        row = texts(jobs, jobs.get_row_index("1"))
        assert row[5] == "[/x] [bold]run␛]52;c;aGk=␇"  # literal, controls made visible
        nodes = app.screen.query_one("#nodes-table", DataTable)
        reason = texts(nodes, nodes.get_row_index("node1"))[4]
        assert reason == "maint [root@2026-11-21T13:25:39]"  # the bracketed suffix kept


async def test_without_a_cluster_the_hint_keeps_its_brackets() -> None:
    app = jobs_app(None)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        status = app.screen.query_one("#cluster-status", Static)
        await wait_for(pilot, lambda: "No Slurm cluster" in str(status.render()))
        assert "or [clusters]." in str(status.render())


async def test_keys_act_on_the_highlighted_row_of_the_focused_table() -> None:
    app = jobs_app(cluster())
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        screen = app.screen
        nodes = screen.query_one("#nodes-table", DataTable)
        await wait_for(pilot, lambda: nodes.row_count == 4)
        assert nodes.has_focus  # arrows move the node cursor at once
        await pilot.press("down", "down")
        assert nodes.cursor_row == 2
        await pilot.press("tab")  # the jobs table now has the keys: no node is selected
        assert not nodes.has_focus
        await pilot.press("d")
        await pilot.pause(0.2)
        assert isinstance(app.screen, JobsScreen)  # nothing offered to drain
        await pilot.press("shift+tab")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonScreen))
        title = app.screen.query_one(".modal-title", Static)
        assert str(title.render()) == "Drain node3: why?"  # the highlighted row


async def open_plan(pilot: Pilot[Any], node: str = "node4") -> None:
    app = pilot.app
    await pilot.press("j")
    await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
    nodes = app.screen.query_one("#nodes-table", DataTable)
    await wait_for(pilot, lambda: nodes.row_count == 4)
    nodes.move_cursor(row=nodes.get_row_index(node))
    await pilot.press("d")
    await wait_for(pilot, lambda: isinstance(app.screen, ReasonScreen))
    app.screen.query_one("#reason-input", Input).value = "fan [loud]"
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen))


async def test_a_stale_cluster_is_named_in_the_plan_and_the_first_yes_asks_again(
    tmp_path: Path,
) -> None:
    stale = cluster(status="stale", reason="estate: scontrol did not answer within 5 s")
    app = jobs_app(stale, tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await open_plan(pilot)
        modal = app.screen
        assert isinstance(modal, PlanScreen)
        shown = str(modal.query_one("#plan-text", Static).render())
        assert "CAUTION: cluster estate is stale (estate: scontrol did not answer within 5 s)" in (
            shown
        )
        assert "reason: fan [loud]" in shown
        await pilot.press("y")
        progress = modal.query_one("#plan-progress", Static)
        assert "Press y again to drain anyway" in str(progress.render())
        assert not (tmp_path / "audit.jsonl").exists()  # nothing ran, nothing audited
        await pilot.press("y")
        # The second yes went ahead: the intent is audited before the command runs.
        await wait_for(pilot, lambda: (tmp_path / "audit.jsonl").exists())


async def test_a_fresh_cluster_acts_on_the_first_yes(tmp_path: Path) -> None:
    app = jobs_app(cluster(), tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await open_plan(pilot)
        modal = app.screen
        assert isinstance(modal, PlanScreen)
        assert "CAUTION" not in str(modal.query_one("#plan-text", Static).render())
        await pilot.press("y")
        await wait_for(pilot, lambda: (tmp_path / "audit.jsonl").exists())


async def test_a_viewer_has_no_action_keys() -> None:
    app = jobs_app(cluster())
    app.policy = Policy(role="viewer")
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        await pilot.press("d")
        await pilot.pause(0.2)
        assert isinstance(app.screen, JobsScreen)


# -- pictures ----------------------------------------------------------------------------


def test_jobs_screen_snapshot(snap_compare: Callable[..., bool]) -> None:
    async def open_jobs(pilot: Pilot[Any]) -> None:
        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, JobsScreen))
        table = pilot.app.screen.query_one("#jobs-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 4)

    assert snap_compare(jobs_app(cluster()), terminal_size=WIDE, run_before=open_jobs)


def test_plan_modal_snapshot(snap_compare: Callable[..., bool]) -> None:
    # No read time: the caution's wording must not depend on when the test runs.
    stale = cluster(
        status="stale", reason="estate: scontrol did not answer within 5 s", collected_at=None
    )
    assert snap_compare(jobs_app(stale), terminal_size=SIZE, run_before=open_plan)


async def test_k_switches_cluster_and_the_actions_follow_it() -> None:
    store = FleetStore(clock=lambda: 1003.0)
    first = cluster()
    second = cluster(
        name="second", status="stale", reason="second: sinfo did not answer within 5 s"
    )
    collectors = [SlurmCollector(state.name, LocalRunner(), store) for state in (first, second)]
    for state in (first, second):
        store.put_cluster(state)  # a new collector marks its cluster "connecting"
    audit = AuditLog(Path("/nonexistent/audit.jsonl"), syslog="off")
    app = ConsoleApp(Fleet(store, [], clusters=collectors), collect=False, audit=audit)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        screen = app.screen
        line = screen.query_one("#clusters-line", Static)
        await wait_for(pilot, lambda: "second" in str(line.render()))
        assert str(line.render()) == "Clusters: ▸estate ok 3.0s old  ·  second stale 3.0s old"
        await pilot.press("k")
        assert str(line.render()) == "Clusters: estate ok 3.0s old  ·  ▸second stale 3.0s old"
        assert screen.title == "Slurm · second (2/2, k: next)"
        await open_plan(pilot)
        modal = app.screen
        assert isinstance(modal, PlanScreen)
        shown = str(modal.query_one("#plan-text", Static).render())
        assert "CAUTION: cluster second is stale" in shown  # planned on the cluster shown
