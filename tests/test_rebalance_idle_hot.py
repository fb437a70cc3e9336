"""Idle reclaim and hot-node relief over hand-built snapshots."""

from __future__ import annotations

import msgspec

from aiconsole.health import Thresholds, TrackerState, observe, step
from aiconsole.model import (
    FleetSnapshot,
    Gpu,
    GpuSection,
    HostState,
    SlurmCluster,
    SlurmJob,
    SlurmNode,
)
from aiconsole.rebalance.hot import HotLimits, plan_hot
from aiconsole.rebalance.idle import plan_idle
from tests.synthetic import recorded_host_sample

NOW = 1_795_000_000.0


def host(
    name: str, temps: list[float], utils: list[float], slow: tuple[str, ...] = ()
) -> HostState:
    sample = recorded_host_sample()
    gpus = tuple(
        Gpu(index=i, temperature_c=t, util_gpu_percent=u, clock_event_reasons=slow)
        for i, (t, u) in enumerate(zip(temps, utils, strict=True))
    )
    sample = msgspec.structs.replace(
        sample,
        identity=msgspec.structs.replace(sample.identity, name=name, hostname=name),
        gpu=GpuSection(status="ok", source="nvml", gpus=gpus),
    )
    return HostState(name=name, status="ok", received_at=NOW, age_s=0.2, sample=sample)


def job(
    job_id: str, node: str, gpus: tuple[int, ...], requeue: bool = True, elapsed: int = 3600
) -> SlurmJob:
    return SlurmJob(
        job_id=job_id,
        state="RUNNING",
        partition="main",
        nodes=(node,),
        user="alice",
        gpu_indices={node: gpus},
        priority=100,
        requeueable=requeue,
        time_used_s=elapsed,
    )


def slurm(used: dict[str, int], jobs: tuple[SlurmJob, ...]) -> SlurmCluster:
    nodes = tuple(
        SlurmNode(
            name=n, state="mixed", summary="mixed", gpus_total=4, gpus_used=u, partitions=("main",)
        )
        for n, u in used.items()
    )
    return SlurmCluster(name="prod", status="ok", nodes=nodes, jobs=jobs)


def judged(snapshot: FleetSnapshot, minutes: int) -> FleetSnapshot:
    """The snapshot as the live console has it after ``minutes`` of identical samples."""
    thresholds = Thresholds(idle_minutes=30)
    state = TrackerState()
    findings: tuple = ()
    for minute in range(minutes + 1):
        now = NOW - 60 * (minutes - minute)
        observations, counters = observe(snapshot, thresholds, state.counters, now)
        state, findings = step(state, observations, counters, thresholds, now)
    return msgspec.structs.replace(snapshot, findings=findings)


def test_a_job_idle_on_all_its_gpus_is_listed_with_owner_and_waste() -> None:
    cluster = slurm({"n1": 4}, (job("7", "n1", (0, 1)), job("8", "n1", (2, 3))))
    # Job 7's GPUs at 0 %, job 8 busy on one of its two.
    snapshot = FleetSnapshot(
        generated_at=NOW, hosts=(host("n1", [50] * 4, [0, 0, 0, 90]),), clusters=(cluster,)
    )
    result = plan_idle(judged(snapshot, 45), cluster, NOW)
    (move,) = result.moves
    assert (move.workload, move.kind, move.owner, move.gpus) == ("7", "notify", "alice", 2)
    assert move.why == "2 GPU(s) idle for 45 min"
    # 2 GPUs x 45 minutes (first seen 45 min ago, raised once 30 had passed).
    assert abs(result.merit["gpu_hours_wasted"] - 2 * 45 / 60) < 1e-9
    assert result.merit["gpus_freed"] == 0.0
    # Not idle long enough: nothing.
    assert plan_idle(judged(snapshot, 20), cluster, NOW).moves == ()


def test_requeue_hold_only_for_requeueable_jobs() -> None:
    cluster = slurm({"n1": 4}, (job("7", "n1", (0, 1)), job("9", "n1", (2, 3), requeue=False)))
    snapshot = FleetSnapshot(
        generated_at=NOW, hosts=(host("n1", [50] * 4, [0, 0, 0, 0]),), clusters=(cluster,)
    )
    result = plan_idle(judged(snapshot, 45), cluster, NOW, action="requeue-hold")
    assert [(m.workload, m.kind) for m in result.moves] == [("7", "requeue-hold"), ("9", "notify")]
    assert result.refusals == ("9: not requeueable (Requeue=0), notify its owner instead",)
    assert result.merit["gpus_freed"] == 2.0


def test_hot_node_work_moves_to_a_cool_node_with_the_hot_node_excluded() -> None:
    cluster = slurm(
        {"hot": 2, "cool": 1, "warm": 2},
        (
            job("1", "hot", (0,), elapsed=60),
            job("2", "hot", (1,), elapsed=7200),
            job("3", "cool", (0,)),
            job("4", "warm", (0, 1)),
        ),
    )
    snapshot = FleetSnapshot(
        generated_at=NOW,
        hosts=(
            host("hot", [91, 60, 40, 40], [99, 99, 0, 0]),
            host("cool", [50] * 4, [90, 0, 0, 0]),
            host("warm", [80, 80, 40, 40], [90, 90, 0, 0]),
        ),
        clusters=(cluster,),
    )
    result = plan_hot(snapshot, cluster)
    (move,) = result.moves  # one per node by default
    assert (move.workload, move.source, move.target, move.exclude) == ("1", "hot", "cool", ("hot",))
    assert move.why == "hot: GPU at 91 C"
    after = {v.name: (v.gpus_allocated, v.gpus_allocated_after) for v in result.nodes}
    assert after == {"hot": (2, 1), "cool": (1, 2)}
    assert result.merit["hot_nodes_relieved"] == 1.0


def test_slowdown_and_no_room_and_not_requeueable() -> None:
    cluster = slurm(
        {"slow": 4, "full": 4}, (job("1", "slow", (0, 1, 2, 3)), job("2", "full", (0, 1, 2, 3)))
    )
    snapshot = FleetSnapshot(
        generated_at=NOW,
        hosts=(
            host("slow", [70] * 4, [90] * 4, slow=("hw_power_brake_slowdown",)),
            host("full", [50] * 4, [90] * 4),
        ),
        clusters=(cluster,),
    )
    result = plan_hot(snapshot, cluster, HotLimits())
    assert result.moves == ()
    assert result.refusals == ("1 on slow: no cool node has 4 free GPU(s)",)
    stuck = slurm({"slow": 4}, (job("1", "slow", (0, 1, 2, 3), requeue=False),))
    assert plan_hot(msgspec.structs.replace(snapshot, clusters=(stuck,)), stuck).refusals == (
        "1 on slow: not requeueable",
    )
