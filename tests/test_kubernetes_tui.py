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
