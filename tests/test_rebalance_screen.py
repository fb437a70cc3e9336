"""The rebalance screen over a modelled cluster: the live plan with its before/after table,
the policy switch, outside text shown as text, and carrying out through the modal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from textual.widgets import Static

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.policy import Policy
from aiconsole.app import ConsoleApp
from aiconsole.collectors.slurm import SlurmCollector
from aiconsole.fleet import Fleet
from aiconsole.model import SlurmCluster
from aiconsole.screens.plan import PlanScreen
from aiconsole.screens.rebalance import RebalanceScreen
from aiconsole.slurm.runner import LocalRunner
from aiconsole.store import FleetStore
from tests.test_rebalance_plan import spread

WIDE = (120, 50)
HOSTILE = "[bold]x[/bold]\x1b]52;c;aGk=\x07"


def cluster() -> SlurmCluster:
    state = spread()
    jobs = tuple(
        msgspec.structs.replace(job, name=HOSTILE) if job.job_id == "12" else job
        for job in state.jobs
    )
    return msgspec.structs.replace(state, jobs=jobs, collected_at=1000.0)


def app_with(state: SlurmCluster, policy: Policy, tmp_path: Path) -> ConsoleApp:
    store = FleetStore()
    collectors = [SlurmCollector(state.name, LocalRunner(), store)]
    store.put_cluster(state)  # after the collector, which announces it as connecting
    audit = AuditLog(tmp_path / "audit.jsonl", syslog="off")
    return ConsoleApp(
        Fleet(store, [], clusters=collectors), collect=False, audit=audit, policy=policy
    )


def shown(app: ConsoleApp) -> str:
    return str(app.screen.query_one("#rebalance-plan", Static).render())


async def test_the_defrag_plan_is_shown_live_and_the_policy_switches(tmp_path: Path) -> None:
    app = app_with(cluster(), Policy(), tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, RebalanceScreen)
        text = shown(app)
        assert text.startswith("policy: defrag")
        assert "command: scontrol requeue 12" in text
        assert "node2" in text and "1/4" in text and "4/4" in text
        # The job's name is shown as it is, its escape sequence removed, no markup applied.
        assert "[bold]x[/bold]" in text and "\x1b" not in text
        await pilot.press("p")
        await pilot.pause()
        assert shown(app).startswith("policy: hot")
        await pilot.press("p", "p")
        await pilot.pause()
        assert shown(app).startswith("policy: defrag")
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen)
        assert app.screen.plan.command == ("scontrol", "requeue", "12")
        await pilot.press("escape")
        assert not (tmp_path / "audit.jsonl").exists()


async def test_a_viewer_sees_the_plan_but_cannot_carry_it_out(tmp_path: Path) -> None:
    app = app_with(cluster(), Policy(role="viewer"), tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("b")
        await pilot.pause()
        assert "this console cannot act" in shown(app)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, RebalanceScreen)


async def test_plans_from_the_kubernetes_hook_are_listed_and_carried_out_their_own_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiconsole.actions.plan import Outcome, Plan, TargetResult
    from aiconsole.rebalance.moves import Result
    from aiconsole.screens import rebalance

    plan = Plan("rebalance-hot", "kind", ("ml/train-0",), (), ("evict", "ml/train-0"))
    ran: list[Plan] = []

    async def execute(plan: Plan, progress: Callable[[str], None]) -> Outcome:
        ran.append(plan)
        return Outcome(plan, (TargetResult("ml/train-0", True, "recreated"),))

    def planner(snapshot: object, choice: object, policy: object) -> list[rebalance.ScopePlan]:
        return [rebalance.ScopePlan("kind", plan, Result("hot"), execute)]

    monkeypatch.setattr(rebalance, "KUBE_PLANNER", planner)
    state = msgspec.structs.replace(cluster(), jobs=())  # nothing to do on Slurm
    app = app_with(state, Policy(), tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("b")
        await pilot.pause()
        assert "rebalance-hot on kind: 1 target(s)" in shown(app)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen) and app.screen.plan is plan
        await pilot.press("y")
        for _ in range(50):
            if ran:
                break
            await pilot.pause(0.05)
        assert ran == [plan]
