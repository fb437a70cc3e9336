"""Rebalance on Kubernetes against the test API server: hot-node relief and idle reclaim,
planned from stand-in GPU telemetry, carried out by eviction, checked with the official
client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from kubernetes import client, config

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.kubernetes_session import KubeTarget
from aiconsole.actions.plan import Outcome, Plan, TargetResult
from aiconsole.actions.policy import Policy
from aiconsole.actions.rebalance_kube_run import RebalanceVerifier, prepare
from aiconsole.kubernetes.api import KubeApi
from aiconsole.model import (
    Finding,
    FleetSnapshot,
    Gpu,
    GpuSection,
    HostState,
    Subject,
    Workload,
)
from aiconsole.rebalance.hot import HotLimits
from aiconsole.rebalance.kube import KubeLimits
from aiconsole.rebalance.moves import Result
from tests.kube_rebalance_scenario import RebalanceScenario, rebalance_scenario
from tests.kubeserver import RunningServer, serve
from tests.synthetic import recorded_host_sample

NOW = 1_795_000_000.0
LIMITS = KubeLimits(heat=HotLimits(max_per_node=3))
Served = tuple[RebalanceScenario, RunningServer]


def host(name: str, temperature: float, util: float = 50.0) -> HostState:
    sample = recorded_host_sample()
    gpus = tuple(Gpu(index=i, temperature_c=temperature, util_gpu_percent=util) for i in range(8))
    sample = msgspec.structs.replace(
        sample,
        identity=msgspec.structs.replace(sample.identity, name=name, hostname=name),
        gpu=GpuSection(status="ok", source="nvml", gpus=gpus),
    )
    return HostState(name=name, status="ok", received_at=NOW, age_s=0.2, sample=sample)


def fleet(hot: str = "n1") -> FleetSnapshot:
    """The hot node's GPUs at 91 C, the others at 60 C."""
    hosts = (host(hot, 91.0), *(host(n, 60.0) for n in ("n2", "n3", "n4")))
    return FleetSnapshot(generated_at=NOW, hosts=hosts)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    scenario = rebalance_scenario()
    (tmp_path / "server").mkdir()
    with serve(tmp_path / "server", scenario.state) as running:
        yield scenario, running


@pytest.fixture
def core(served: Served) -> Iterator[client.CoreV1Api]:
    configuration = client.Configuration()
    config.load_kube_config(
        str(served[1].kubeconfig), context="test", client_configuration=configuration
    )
    with client.ApiClient(configuration) as api:
        yield client.CoreV1Api(api)


def plan_on(
    running: RunningServer,
    tmp_path: Path,
    policy_name: str = "hot",
    findings: tuple[Finding, ...] = (),
    policy: Policy | None = None,
    **options: object,
) -> tuple[Result, Plan, Outcome | None]:
    """Plan against the server; with ``execute=True`` also carry it out."""
    execute = bool(options.pop("execute", False))
    audit = AuditLog(tmp_path / "audit.jsonl")
    policy = policy or Policy()

    async def go() -> tuple[Result, Plan, Outcome | None]:
        result, plan, run = await prepare(
            KubeTarget("test", str(running.kubeconfig)),
            policy_name,
            fleet(),
            findings,
            policy,
            audit,
            limits=LIMITS,
            verify_timeout=20.0,
            **options,  # type: ignore[arg-type]
        )
        return result, plan, (await run(plan, lambda _line: None) if execute else None)

    return asyncio.run(go())


def test_hot_plan_moves_the_controller_owned_pods_and_says_why_not_the_others(
    served: Served, tmp_path: Path
) -> None:
    scenario, running = served
    result, plan, _ = plan_on(running, tmp_path)
    moves = {m.workload: m for m in result.moves}
    assert sorted(moves) == ["ml/batch-pod", "ml/train-pod"]
    assert all(m.kind == "evict" and m.source == "n1" for m in moves.values())
    assert all("GPU at 91 C" in m.why for m in moves.values())
    # Best fit alone would send train (2 GPUs) to n2 (3 free): its taint is not tolerated.
    assert moves["ml/train-pod"].target == "n3"
    assert "n2" not in {m.target for m in result.moves}
    refusals = "\n".join(result.refusals)
    assert "ml/serve-a-pod on n1: PodDisruptionBudget ml/serve allows 0" in refusals
    assert "default/notebook-pod on n1: a bare pod" in refusals
    assert "gpu-operator/burn-pod on n1: DaemonSet burn" in refusals
    assert "research/pinned-pod on n1: no cool node would take it" in refusals
    assert "n2: taint dedicated=research:NoSchedule not tolerated" in refusals
    assert "n3: nodeSelector pool=research not met" in refusals
    # The plan: cordon the hot node, then the two evictions; before/after and the merit.
    assert plan.action == "rebalance-hot" and plan.allowed
    assert plan.targets == ("n1", "ml/batch-pod", "ml/train-pod")
    text = plan.describe()
    assert "n1 (GPUs 7/8 requested, GPU use 50 %, 91 C)" in text
    assert "after: GPUs 4/8 requested" in text
    assert "warning: not moved: ml/serve-a-pod on n1: PodDisruptionBudget ml/serve" in text
    assert "hot nodes relieved: 1" in text
    assert "POST /api/v1/namespaces/ml/pods/train-pod/eviction (policy/v1)" in plan.command
    # Planning changed nothing.
    assert scenario.state.evicted == []
    assert not scenario.state.get("nodes", "", "n1")["spec"].get("unschedulable")


def test_executed_the_pods_come_back_elsewhere_verified_and_audited(
    served: Served, core: client.CoreV1Api, tmp_path: Path
) -> None:
    scenario, running = served
    _, plan, outcome = plan_on(running, tmp_path, execute=True)
    assert outcome is not None and outcome.ok, outcome
    assert sorted(scenario.state.evicted) == [("ml", "batch-pod"), ("ml", "train-pod")]
    assert scenario.state.eviction_refusals == []
    assert core.read_node("n1").spec.unschedulable is True
    for role, namespace in (("batch", "ml"), ("train", "ml")):
        owner_uid = scenario.owners[role]["metadata"]["uid"]
        pods = [
            p
            for p in core.list_namespaced_pod(namespace).items
            if any(r.uid == owner_uid for r in p.metadata.owner_references or [])
        ]
        (new,) = pods
        assert new.metadata.name != f"{role}-pod"
        assert new.spec.node_name not in ("n1", "n2")
        assert new.status.phase == "Running"
    # Everything refused is where it was.
    for namespace, name in (
        ("ml", "serve-a-pod"),
        ("default", "notebook-pod"),
        ("gpu-operator", "burn-pod"),
        ("research", "pinned-pod"),
    ):
        assert core.read_namespaced_pod(name, namespace).spec.node_name == "n1"
    records = list(AuditLog(tmp_path / "audit.jsonl").records())
    assert [r["phase"] for r in records] == ["intent", "outcome"]
    assert records[0]["plan"]["targets"] == list(plan.targets)
    assert records[1]["ok"] is True


def test_nothing_moves_when_no_cool_node_would_take_the_pods(
    served: Served, tmp_path: Path
) -> None:
    scenario, running = served
    for name in ("n2", "n3", "n4"):  # nowhere else to go
        scenario.state.patch(
            "nodes", "", name, "application/merge-patch+json", {"spec": {"unschedulable": True}}
        )
    result, plan, _ = plan_on(running, tmp_path)
    assert result.moves == () and plan.targets == ()
    assert "no cool node would take it" in "\n".join(result.refusals)


def test_verification_fails_when_the_pod_comes_back_to_the_hot_node(
    served: Served, tmp_path: Path
) -> None:
    """Evicted with the hot node left schedulable and the others full: the controller puts
    the new pod straight back, which is no relief, and verification says so."""
    scenario, running = served
    _, plan, _ = plan_on(running, tmp_path)
    for name in ("n2", "n3", "n4"):
        scenario.state.patch(
            "nodes", "", name, "application/merge-patch+json", {"spec": {"unschedulable": True}}
        )
    scenario.state.delete("pods", "ml", "train-pod")

    async def check() -> list[TargetResult]:
        api = await KubeApi.connect("test", str(running.kubeconfig), 5.0)
        try:
            return await RebalanceVerifier(api).check(plan)
        finally:
            await api.close()

    results = {r.target: r for r in asyncio.run(check())}
    assert not results["n1"].ok  # never cordoned
    train = results["ml/train-pod"]
    assert (train.ok, train.state, train.detail) == (
        False,
        "recreated on n1",
        "back on the node it left",
    )
    assert not results["ml/batch-pod"].ok  # never evicted
    assert results["ml/batch-pod"].state == "still on n1"


def idle_finding(host_name: str, index: int, pod_uid: str, since: float) -> Finding:
    return Finding(
        rule="gpu.idle_allocated",
        severity="warning",
        subject=Subject(kind="gpu", host=host_name, name=str(index)),
        summary=f"GPU {index} idle at 0 %",
        workloads=(Workload(kind="pod", id=pod_uid, cluster="test"),),
        first_seen=since,
        last_seen=NOW,
        incident=f"idle-{host_name}-{index}",
    )


def test_idle_reclaim_notifies_by_default_and_evicts_only_controller_owned_pods(
    served: Served, tmp_path: Path
) -> None:
    scenario, running = served
    uid = {
        name: scenario.state.get("pods", space, name)["metadata"]["uid"]
        for space, name in (("ml", "train-pod"), ("default", "notebook-pod"), ("ml", "batch-pod"))
    }
    hour_ago = NOW - 3600
    findings = (
        idle_finding("n1", 0, uid["train-pod"], hour_ago),
        idle_finding("n1", 1, uid["train-pod"], hour_ago),
        idle_finding("n1", 2, uid["notebook-pod"], hour_ago),
        # batch holds one GPU but only... its GPU works: no finding, not idle.
    )
    result, plan, _ = plan_on(running, tmp_path, "idle", findings)
    assert [(m.workload, m.kind) for m in result.moves] == [
        ("default/notebook-pod", "notify"),
        ("ml/train-pod", "notify"),
    ]
    assert result.merit["gpu_hours_wasted"] == pytest.approx(3.0)
    assert plan.targets == ()
    result, plan, outcome = plan_on(
        running, tmp_path, "idle", findings, idle_action="evict", execute=True
    )
    assert [(m.workload, m.kind) for m in result.moves] == [
        ("default/notebook-pod", "notify"),
        ("ml/train-pod", "evict"),
    ]
    assert "default/notebook-pod: a bare pod" in "\n".join(result.refusals)
    assert plan.targets == ("ml/train-pod",)
    assert outcome is not None and outcome.ok, outcome
    assert scenario.state.evicted == [("ml", "train-pod")]


def test_a_viewer_is_refused_before_anything_runs(served: Served, tmp_path: Path) -> None:
    scenario, running = served
    from aiconsole.actions.policy import ActionRefused

    with pytest.raises(ActionRefused):
        plan_on(running, tmp_path, policy=Policy(role="viewer"), execute=True)
    with pytest.raises(ActionRefused):
        plan_on(running, tmp_path, policy=Policy(read_only=True), execute=True)
    assert scenario.state.evicted == []
    assert not scenario.state.get("nodes", "", "n1")["spec"].get("unschedulable")
