"""A Kubernetes drain through the TUI's plan modal: the same plan, confirmation, execution,
verification and audit as the CLI's, with no connection held while the plan is on screen."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.app import App

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.kubernetes import DrainOptions
from aiconsole.actions.kubernetes_session import KubeTarget, prepare
from aiconsole.actions.policy import Policy
from aiconsole.screens.plan import PlanScreen
from tests.kubeserver import KubeState, drain_scenario, serve


def test_drain_confirmed_in_the_plan_modal_evicts_and_is_audited(tmp_path: Path) -> None:
    scenario = drain_scenario(KubeState(controller=False))
    scenario.allow_after_refusals(refusals=1)
    audit = AuditLog(tmp_path / "audit.jsonl")
    (tmp_path / "srv").mkdir()

    async def scenario_run(kubeconfig: Path) -> tuple[str, str]:
        plan, execute = await prepare(
            KubeTarget("test", str(kubeconfig)),
            "drain",
            ["n2"],
            Policy(),
            audit,
            options=DrainOptions(force=True, delete_emptydir_data=True),
        )
        screen = PlanScreen(plan, execute)
        app: App[None] = App()
        async with app.run_test() as pilot:
            await app.push_screen(screen)
            await pilot.pause()
            shown = str(screen.query_one("#plan-text").render())
            await pilot.press("y")
            for _ in range(1000):
                if screen.outcome is not None:
                    break
                await pilot.pause(0.02)
            progress = str(screen.query_one("#plan-progress").render())
        return shown, progress

    with serve(tmp_path / "srv", scenario.state) as running:
        shown, progress = asyncio.run(scenario_run(running.kubeconfig))
    assert "skip gpu-operator/nvidia-device-plugin-1x1z" in shown
    assert "PodDisruptionBudget ml/serve allows 0 disruptions now" in shown
    assert "blocked by PodDisruptionBudget ml/serve" in progress
    assert "done and verified" in progress
    assert set(scenario.state.evicted) == scenario.evictable
    phases = [record["phase"] for record in audit.records()]
    assert phases == ["intent", "outcome"]


def test_workloads_screen_shows_nodes_and_pods_and_cordons_through_the_modal(
    tmp_path: Path,
) -> None:
    from textual.widgets import DataTable

    from aiconsole.app import ConsoleApp
    from aiconsole.collectors.kubernetes import KubeCollector
    from aiconsole.fleet import Fleet
    from aiconsole.screens.workloads import WorkloadsScreen
    from aiconsole.store import FleetStore

    scenario = drain_scenario()
    audit = AuditLog(tmp_path / "audit.jsonl")
    (tmp_path / "srv").mkdir()

    def rows(table: DataTable[object]) -> list[list[str]]:
        return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]

    async def scenario_run(kubeconfig: Path, role: str) -> list[list[str]]:
        store = FleetStore()
        collector = KubeCollector("test", store, kubeconfig=str(kubeconfig))
        await collector.poll_once()
        app = ConsoleApp(
            Fleet(store, kube=[collector]), collect=False, audit=audit, policy=Policy(role=role)
        )
        async with app.run_test(size=(120, 40)) as pilot:
            screen = WorkloadsScreen()
            await app.push_screen(screen)
            await pilot.pause()
            nodes = screen.query_one("#kube-nodes", DataTable)
            await pilot.press("down", "down")  # n3
            await pilot.pause()
            pods = rows(screen.query_one("#kube-pods", DataTable))
            await pilot.press("c")
            for _ in range(500):
                if isinstance(app.screen, PlanScreen):
                    break
                await pilot.pause(0.02)
            if isinstance(app.screen, PlanScreen):
                plan_screen = app.screen
                await pilot.press("y")
                for _ in range(500):
                    if plan_screen.outcome is not None:
                        break
                    await pilot.pause(0.02)
            assert nodes.row_count == 4
        await collector.aclose()
        return pods

    with serve(tmp_path / "srv", scenario.state) as running:
        pods = asyncio.run(scenario_run(running.kubeconfig, "viewer"))
        assert not scenario.state.get("nodes", "", "n3")["spec"].get("unschedulable")
        pods = asyncio.run(scenario_run(running.kubeconfig, "operator"))
        assert scenario.state.get("nodes", "", "n3")["spec"]["unschedulable"] is True
    names = [row[0] for row in pods]
    assert names == ["gpu-operator/nvidia-device-plugin-2x2z", "ml/serve-7d4b9c6f5-fghij"]
    serve_row = pods[1]
    assert serve_row[2] == "ReplicaSet serve-7d4b9c6f5" and serve_row[3] == "1 nvidia.com/gpu"
    assert [(r["action"], r["phase"]) for r in audit.records()] == [
        ("cordon", "intent"),
        ("cordon", "outcome"),
    ]
