"""The rebalance screen over a watched Kubernetes context on the test API server: this
machine's stand-in GPUs run hot and it is the scenario's hot node. The plan shown comes from
the live snapshot; confirming re-reads the cluster with its disruption budgets and runs only
the plan that was shown."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from textual.widgets import Static

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.policy import Policy
from aiconsole.app import ConsoleApp
from aiconsole.collectors.kubernetes import KubeCollector
from aiconsole.collectors.local import LocalCollector
from aiconsole.fleet import Fleet
from aiconsole.screens.plan import PlanScreen
from aiconsole.screens.rebalance import RebalanceScreen
from aiconsole.store import FleetStore
from tests.conftest import NvmlConfig
from tests.kube_rebalance_scenario import RebalanceScenario, rebalance_scenario
from tests.kubeserver import serve

HOST = socket.gethostname()
WIDE = (140, 60)
Served = tuple[RebalanceScenario, Path]


@pytest.fixture
def served(tmp_path: Path, nvml_in_process: NvmlConfig) -> Iterator[Served]:
    """The scenario served, with this machine (8 GPUs at 92 C: hot) as its hot node."""
    nvml_in_process.set(device_count=8)
    for index in range(8):
        nvml_in_process.gpu(index, temperature=92)
    scenario = rebalance_scenario(hot=HOST)
    (tmp_path / "server").mkdir()
    with serve(tmp_path / "server", scenario.state) as running:
        yield scenario, running.kubeconfig


def console(kubeconfig: Path, audit: AuditLog, role: str = "operator") -> ConsoleApp:
    """The local collector for this machine plus a watch of the served context."""
    store = FleetStore()
    local = LocalCollector(store, name=HOST, interval=0.2)
    kube = KubeCollector("test", store, kubeconfig=str(kubeconfig), min_publish=0.05)
    fleet = Fleet(store, [local], kube=[kube])
    return ConsoleApp(fleet, refresh_interval=0.1, audit=audit, policy=Policy(role=role))


async def until(pilot: Any, ready: Callable[[], bool], tries: int = 500) -> bool:
    """Let the app run until ``ready`` (bounded: no clock in the verdict)."""
    for _ in range(tries):
        if ready():
            return True
        await pilot.pause(0.02)
    return ready()


def shown(app: ConsoleApp) -> str:
    if not isinstance(app.screen, RebalanceScreen) or not app.screen.is_mounted:
        return ""
    return str(app.screen.query_one("#rebalance-plan", Static).render())


def progress(screen: PlanScreen) -> str:
    return str(screen.query_one("#plan-progress", Static).render())


async def hot_plan_on_screen(app: ConsoleApp, pilot: Any) -> str:
    """Open the screen, switch to the hot policy, and wait for the context's plan."""
    await pilot.press("b")
    assert await until(pilot, lambda: shown(app).startswith("policy: "))
    for _ in range(3):  # the policies go round
        if shown(app).startswith("policy: hot"):
            break
        await pilot.press("p")
    assert await until(pilot, lambda: "ml/batch-pod" in shown(app)), shown(app)
    return shown(app)


async def confirm(app: ConsoleApp, pilot: Any) -> PlanScreen:
    """``x`` then ``y``; the modal once its outcome (or refusal) is in."""
    await pilot.press("x")
    assert await until(pilot, lambda: isinstance(app.screen, PlanScreen))
    modal = app.screen
    assert isinstance(modal, PlanScreen)
    await pilot.press("y")
    assert await until(pilot, lambda: modal.outcome is not None or "not done" in progress(modal),
                       tries=3000), progress(modal)  # fmt: skip
    return modal


def audit_records(audit: AuditLog) -> list[tuple[str, str]]:
    if not audit.path.exists():
        return []
    return [(r["phase"], r["action"]) for r in audit.records()]


async def test_the_hot_plan_is_shown_and_confirming_evicts_verifies_and_audits(
    served: Served, tmp_path: Path
) -> None:
    scenario, kubeconfig = served
    audit = AuditLog(tmp_path / "audit.jsonl", syslog="off")
    app = console(kubeconfig, audit)
    async with app.run_test(size=WIDE) as pilot:
        text = await hot_plan_on_screen(app, pilot)

        assert "rebalance-hot on test: 2 target(s)" in text
        assert "ml/batch-pod (Job/batch, 1 GPU(s))" in text
        assert f"evict from {HOST}, to n4 (expected): {HOST}: GPU at 92 C" in text
        assert f"PATCH /api/v1/nodes/{HOST} (strategic merge) spec.unschedulable=true" in text
        assert "POST /api/v1/namespaces/ml/pods/batch-pod/eviction" in text
        modal = await confirm(app, pilot)
        assert modal.outcome is not None and modal.outcome.status == "verified", progress(modal)
        assert "done and verified" in progress(modal)
        assert "ml/batch-pod=recreated as batch-" in progress(modal)
    assert scenario.state.evicted == [("ml", "batch-pod")]
    assert scenario.state.get("nodes", "", HOST)["spec"].get("unschedulable") is True
    assert audit_records(audit) == [("intent", "rebalance-hot"), ("outcome", "rebalance-hot")]


def add_budget(kubeconfig: Path, namespace: str, name: str, labels: dict[str, str]) -> None:
    """Through the official client, as another operator would: a budget that allows no
    disruption of the pods it covers (each of them is needed)."""
    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        str(kubeconfig), context="test", client_configuration=configuration
    )
    body = client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace),
        spec=client.V1PodDisruptionBudgetSpec(
            selector=client.V1LabelSelector(match_labels=labels), max_unavailable=0
        ),
    )
    with client.ApiClient(configuration) as api:
        client.PolicyV1Api(api).create_namespaced_pod_disruption_budget(namespace, body)


async def test_a_budget_added_after_the_plan_was_shown_stops_it_and_the_new_plan_is_shown(
    served: Served, tmp_path: Path
) -> None:
    scenario, kubeconfig = served
    audit = AuditLog(tmp_path / "audit.jsonl", syslog="off")
    app = console(kubeconfig, audit)
    async with app.run_test(size=WIDE) as pilot:
        await hot_plan_on_screen(app, pilot)
        add_budget(kubeconfig, "ml", "batch", {"job-name": "batch"})
        modal = await confirm(app, pilot)
        said = progress(modal)
        assert modal.outcome is not None and modal.outcome.status == "failed", said
        assert "test: the cluster changed since the plan was shown" in said
        assert "nothing was done" in said
        assert "done and verified" not in said
        # The modal shows the plan as it stands, with the budget read now.
        assert "the plan as it stands now:" in said
        assert "ml/batch-pod on " in said and "PodDisruptionBudget ml/batch allows 0" in said
        assert scenario.state.evicted == []
        assert not scenario.state.get("nodes", "", HOST)["spec"].get("unschedulable")
        assert audit_records(audit) == []
        # Back on the screen, the plan shown is now made with that budget: the one that runs.
        await pilot.press("n")
        assert await until(pilot, lambda: "PodDisruptionBudget ml/batch" in shown(app))
        assert "ml/train-pod (" in shown(app)
        modal = await confirm(app, pilot)
        assert modal.outcome is not None and modal.outcome.status == "verified", progress(modal)
    assert scenario.state.evicted == [("ml", "train-pod")]
    assert audit_records(audit) == [("intent", "rebalance-hot"), ("outcome", "rebalance-hot")]


async def test_a_viewer_sees_the_context_plan_but_cannot_carry_it_out(
    served: Served, tmp_path: Path
) -> None:
    scenario, kubeconfig = served
    audit = AuditLog(tmp_path / "audit.jsonl", syslog="off")
    app = console(kubeconfig, audit, role="viewer")
    async with app.run_test(size=WIDE) as pilot:
        text = await hot_plan_on_screen(app, pilot)
        assert "this console cannot act (viewer role or --read-only): plans only" in text
        assert f"evict from {HOST}, to n4" in text
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, RebalanceScreen)  # no modal: nothing to confirm
    assert scenario.state.evicted == []
    assert not scenario.state.get("nodes", "", HOST)["spec"].get("unschedulable")
    assert audit_records(audit) == []
