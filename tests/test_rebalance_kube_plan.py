"""The Kubernetes rebalance planners on hand-built clusters: what makes a node hot, the
budgets a plan spends, the caps, and the idle pods."""

from __future__ import annotations

from aiconsole.kubernetes.drain import Budget
from aiconsole.model import (
    Finding,
    FleetSnapshot,
    KubeCluster,
    KubeNode,
    KubePod,
    Subject,
    Workload,
)
from aiconsole.rebalance.hot import HotLimits
from aiconsole.rebalance.kube import KubeLimits, plan_kube_hot, plan_kube_idle
from tests.test_rebalance_kube import NOW, host


def node(name: str, used: int = 0, **extra: object) -> KubeNode:
    fields: dict[str, object] = {"summary": "Ready", "ready": True, **extra}
    return KubeNode(
        name=name,
        gpu_allocatable={"nvidia.com/gpu": 8},
        gpu_requested={"nvidia.com/gpu": used} if used else {},
        **fields,  # type: ignore[arg-type]
    )


def pod(
    name: str, node_name: str, gpus: int = 1, namespace: str = "ml", **extra: object
) -> KubePod:
    return KubePod(
        namespace=namespace,
        name=name,
        uid=f"uid-{name}",
        node=node_name,
        phase="Running",
        owner_kind="ReplicaSet",
        owner_name=f"{name}-rs",
        owner_uid=f"rs-{name}",
        gpus={"nvidia.com/gpu": gpus},
        labels={"app": name.rstrip("0123456789")},
        created_at=NOW - 3600,
        **extra,  # type: ignore[arg-type]
    )


def cluster(pods: list[KubePod], nodes: list[KubeNode]) -> KubeCluster:
    return KubeCluster(name="test", status="ok", nodes=tuple(nodes), pods=tuple(pods))


def snapshot(
    temps: dict[str, float], findings: tuple[Finding, ...] = (), **utils: float
) -> FleetSnapshot:
    hosts = tuple(host(name, t, utils.get(name, 50.0)) for name, t in temps.items())
    return FleetSnapshot(generated_at=NOW, hosts=hosts, findings=findings)


COOL = {"n1": 60.0, "n2": 60.0, "n3": 60.0}
WIDE = KubeLimits(heat=HotLimits(max_per_node=8))


def test_a_node_finding_or_use_far_above_the_mean_makes_it_hot() -> None:
    pods = [pod("a1", "n1"), pod("b1", "n2")]
    nodes = [node("n1", 1), node("n2", 1), node("n3")]
    assert plan_kube_hot(snapshot(COOL), cluster(pods, nodes), []).moves == ()
    pressure = Finding(
        rule="k8s.node_pressure",
        severity="warning",
        subject=Subject(kind="k8s_node", cluster="test", name="n2"),
        summary="MemoryPressure",
        first_seen=NOW,
        last_seen=NOW,
        incident="x",
    )
    result = plan_kube_hot(snapshot(COOL, (pressure,)), cluster(pods, nodes), [])
    assert [(m.workload, m.source, m.target) for m in result.moves] == [
        ("ml/b1", "n2", "n1")
    ]  # best fit
    assert "1 warning finding(s)" in result.moves[0].why
    busy = plan_kube_hot(snapshot(COOL, n1=99.0, n2=20.0, n3=20.0), cluster(pods, nodes), [])
    assert [m.workload for m in busy.moves] == ["ml/a1"]
    assert "GPU use 99 %" in busy.moves[0].why


def test_a_budget_that_allows_one_lets_one_pod_go_and_refuses_the_next() -> None:
    pods = [pod("web1", "n1"), pod("web2", "n1")]
    budget = Budget("ml", "web", 1, {"app": "web"}, ())
    hot = {**COOL, "n1": 95.0}
    result = plan_kube_hot(
        snapshot(hot), cluster(pods, [node("n1", 2), node("n2")]), [budget], WIDE
    )
    assert [m.workload for m in result.moves] == ["ml/web1"]
    assert result.refusals == (
        "ml/web2 on n1: PodDisruptionBudget ml/web allows 1 disruption(s) (1 spent by this plan)",
    )


def test_caps_per_node_plan_and_namespace() -> None:
    pods = [pod(f"p{i}", "n1") for i in range(4)] + [pod("q1", "n1", namespace="other")]
    nodes = [node("n1", 5), node("n2")]
    hot = {**COOL, "n1": 95.0}
    one = plan_kube_hot(snapshot(hot), cluster(pods, nodes), [])
    assert len(one.moves) == 1  # one per node by default
    capped = KubeLimits(heat=HotLimits(max_per_node=8), max_per_namespace=2)
    result = plan_kube_hot(snapshot(hot), cluster(pods, nodes), [], capped)
    assert sorted(m.workload for m in result.moves) == ["ml/p0", "ml/p1", "other/q1"]
    assert sum("over the cap of moves in namespace ml" in r for r in result.refusals) == 2
    only = plan_kube_hot(snapshot(hot), cluster(pods, nodes), [], WIDE, namespace="other")
    assert [m.workload for m in only.moves] == ["other/q1"]


def test_a_cordoned_or_full_or_warm_node_takes_nothing() -> None:
    pods = [pod("a1", "n1", gpus=4)]
    hot = {"n1": 95.0, "n2": 80.0, "n3": 60.0, "n4": 60.0}
    nodes = [
        node("n1", 4),
        node("n2"),  # warm: between cool and hot
        node("n3", 6),  # 2 free
        node("n4", unschedulable=True, summary="Ready,SchedulingDisabled"),
    ]
    result = plan_kube_hot(snapshot(hot), cluster(pods, nodes), [])
    assert result.moves == ()
    (refusal,) = result.refusals
    assert "n3: 2 free nvidia.com/gpu" in refusal and "n4: Ready,SchedulingDisabled" in refusal
    assert "n2" not in refusal  # never a candidate


def idle(pod_uid: str, index: int, since: float) -> Finding:
    return Finding(
        rule="gpu.idle_allocated",
        severity="warning",
        subject=Subject(kind="gpu", host="n1", name=str(index)),
        summary="idle",
        workloads=(Workload(kind="pod", id=pod_uid, cluster="test"),),
        first_seen=since,
        last_seen=NOW,
        incident=f"i{index}",
    )


def test_an_idle_pod_has_every_gpu_idle_long_enough() -> None:
    pods = [pod("two", "n1", gpus=2), pod("one", "n1")]
    findings = (idle("uid-two", 0, NOW - 7200), idle("uid-one", 2, NOW - 600))
    half = plan_kube_idle(snapshot(COOL, findings), cluster(pods, [node("n1", 3)]), [], NOW)
    assert [m.workload for m in half.moves] == ["ml/one"]  # two still works on one GPU
    both = (*findings, idle("uid-two", 1, NOW - 3600))
    result = plan_kube_idle(
        snapshot(COOL, both), cluster(pods, [node("n1", 3)]), [], NOW, min_idle_s=1800
    )
    assert [(m.workload, m.kind) for m in result.moves] == [("ml/two", "notify")]
    assert result.merit["gpu_hours_wasted"] == 2.0  # 2 GPUs, idle an hour (the later one)
