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
            await pilot.press("w")  # the key that opens it
            for _ in range(200):
                if isinstance(app.screen, WorkloadsScreen) and app.screen.is_mounted:
                    break
                await pilot.pause(0.02)
            screen = app.screen
            assert isinstance(screen, WorkloadsScreen)
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
    assert serve_row[6] == "ReplicaSet serve-7d4b9c6f5" and serve_row[4] == "1 nvidia.com/gpu"
    assert [(r["action"], r["phase"]) for r in audit.records()] == [
        ("cordon", "intent"),
        ("cordon", "outcome"),
    ]


def test_the_host_screen_shows_the_hosts_kubernetes_node_and_its_pods_live(
    tmp_path: Path, no_gpu_env: dict[str, str]
) -> None:
    """One picture: this machine, sampled by the console, is also a node of the watched
    cluster; its host screen shows the node's state and pods, and follows a cordon."""
    from textual.widgets import Static

    from aiconsole.app import ConsoleApp
    from aiconsole.collectors.kubernetes import KubeCollector
    from aiconsole.collectors.local import LocalCollector
    from aiconsole.fleet import Fleet
    from aiconsole.screens.host import HostScreen
    from aiconsole.store import FleetStore
    from tests.kubeserver import objects as o

    name = "console-host"
    scenario = drain_scenario()
    scenario.state.add(o.node(name, gpus=8))
    job = scenario.state.add(o.job("sweep", {"job-name": "sweep"}, namespace="ml", gpus=2))
    scenario.state.add(o.pod("sweep-abcde", node=name, namespace="ml", owner=job, gpus=2))
    (tmp_path / "srv").mkdir()

    async def scenario_run(kubeconfig: Path) -> tuple[str, str]:
        store = FleetStore()
        local = LocalCollector(store, name=name, interval=0.2)
        kube = KubeCollector("test", store, kubeconfig=str(kubeconfig), min_publish=0.05)
        app = ConsoleApp(Fleet(store, [local], kube=[kube]), refresh_interval=0.1)
        async with app.run_test(size=(120, 40)) as pilot:
            app.open_host(name)

            def line() -> str:
                if not isinstance(app.screen, HostScreen) or not app.screen.is_mounted:
                    return ""
                return str(app.screen.query_one("#host-kube", Static).render())

            for _ in range(500):
                if "sweep-abcde" in line():
                    break
                await pilot.pause(0.02)
            before = line()
            scenario.state.patch(
                "nodes", "", name, "application/merge-patch+json", {"spec": {"unschedulable": True}}
            )
            for _ in range(500):
                if "SchedulingDisabled" in line():
                    break
                await pilot.pause(0.02)
            return before, line()

    with serve(tmp_path / "srv", scenario.state) as running:
        before, after = asyncio.run(scenario_run(running.kubeconfig))
    assert before.startswith(f"Kubernetes test: {name} Ready, GPUs 2/8")
    assert "pods: ml/sweep-abcde (Job, 2 nvidia.com/gpu)" in before
    assert after.startswith(f"Kubernetes test: {name} Ready,SchedulingDisabled")
