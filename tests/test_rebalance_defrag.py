"""Defragmentation on a modelled cluster: the fewest, cheapest requeues that let the largest
blocked pending job start, and refusals when the work would have nowhere to go."""

from __future__ import annotations

from aiconsole.model import SlurmCluster, SlurmJob, SlurmNode
from aiconsole.rebalance.defrag import Limits, plan_defrag


def node(
    name: str,
    used: int,
    total: int = 4,
    partitions: tuple[str, ...] = ("main",),
    state: str = "mixed",
    flags: tuple[str, ...] = (),
) -> SlurmNode:
    return SlurmNode(
        name=name,
        state=state,
        flags=flags,
        summary=state,
        gpus_total=total,
        gpus_used=used,
        partitions=partitions,
    )


def running(
    job_id: str,
    where: str,
    gpus: int = 1,
    *,
    priority: int = 100,
    elapsed: int = 3600,
    requeue: bool = True,
    user: str = "alice",
) -> SlurmJob:
    return SlurmJob(
        job_id=job_id,
        state="RUNNING",
        partition="main",
        nodes=(where,),
        gpu_indices={where: tuple(range(gpus))},
        priority=priority,
        requeueable=requeue,
        time_used_s=elapsed,
        user=user,
    )


def pending(job_id: str, gpus: int, nodes: int = 1, priority: int = 500) -> SlurmJob:
    return SlurmJob(
        job_id=job_id,
        state="PENDING",
        partition="main",
        gpus_per_node=gpus,
        nodes_requested=nodes,
        priority=priority,
        user="bob",
    )


def spread_cluster(**overrides: object) -> SlurmCluster:
    """The issue's scenario: four 1-GPU jobs one per node (4 x 4 GPUs), a pending 4-GPU job."""
    jobs = [
        running("11", "node1", elapsed=7200),
        running("12", "node2", elapsed=600),  # the least progress to lose
        running("13", "node3", elapsed=5400),
        running("14", "node4", elapsed=3000),
        pending("20", gpus=4),
    ]
    nodes = [node(f"node{n}", used=1) for n in range(1, 5)]
    return SlurmCluster(name="c", status="ok", nodes=tuple(nodes), jobs=tuple(jobs), **overrides)  # type: ignore[arg-type]


def test_one_requeue_of_the_cheapest_job_lets_the_4_gpu_job_start() -> None:
    result = plan_defrag(spread_cluster())
    assert result.starts == "20"
    (move,) = result.moves
    assert (move.workload, move.kind, move.source) == ("12", "requeue", "node2")
    assert move.target in ("node1", "node3", "node4")  # it fits again elsewhere
    assert result.merit["pending_gpus_started"] == 4.0
    assert result.merit["gpu_hours_lost"] == 600 / 3600
    after = {view.name: view.gpus_allocated_after for view in result.nodes}
    assert after["node2"] == 4


def test_at_equal_count_and_progress_the_lowest_priority_goes() -> None:
    cluster = spread_cluster()
    jobs = list(cluster.jobs)
    jobs[2] = running("13", "node3", elapsed=600, priority=1)  # as cheap as job 12, lower
    result = plan_defrag(SlurmCluster(name="c", status="ok", nodes=cluster.nodes, jobs=tuple(jobs)))
    assert [m.workload for m in result.moves] == ["13"]


def test_jobs_that_cannot_be_requeued_are_never_moved() -> None:
    jobs = [running(str(10 + n), f"node{n}", requeue=False) for n in range(1, 5)]
    cluster = SlurmCluster(
        name="c",
        status="ok",
        nodes=tuple(node(f"node{n}", 1) for n in range(1, 5)),
        jobs=(*jobs, pending("20", 4)),
    )
    result = plan_defrag(cluster)
    assert result.moves == () and result.starts is None
    assert result.refusals == ("20: no 1 node(s) can be freed for it",)


def test_unknown_requeue_flag_counts_as_no() -> None:
    job = running("11", "node1")
    unknown = SlurmJob(
        **{**{f: getattr(job, f) for f in job.__struct_fields__}, "requeueable": None}
    )
    cluster = SlurmCluster(
        name="c", status="ok", nodes=(node("node1", 1),), jobs=(unknown, pending("20", 4))
    )
    assert plan_defrag(cluster).moves == ()


def test_a_move_whose_work_has_nowhere_to_go_is_refused() -> None:
    # Two nodes, each with a 2-GPU job; the pending job wants 4: requeuing either job leaves
    # it no node with 2 free GPUs once the 4-GPU job has started.
    cluster = SlurmCluster(
        name="c",
        status="ok",
        nodes=(node("node1", 2), node("node2", 4)),
        jobs=(
            running("11", "node1", gpus=2),
            running("12", "node2", gpus=4, requeue=False),
            pending("20", 4),
        ),
    )
    result = plan_defrag(cluster)
    assert result.moves == ()
    assert result.refusals == ("20: the requeued jobs would have nowhere to run",)


def test_a_job_that_can_start_already_needs_no_plan_and_held_jobs_are_ignored() -> None:
    cluster = SlurmCluster(
        name="c",
        status="ok",
        nodes=(node("node1", 0),),
        jobs=(pending("20", 4), pending("21", 8, priority=0)),
    )
    result = plan_defrag(cluster)
    assert result.moves == () and result.refusals == ("no pending GPU job is blocked",)


def test_drained_nodes_and_other_partitions_are_not_targets() -> None:
    nodes = (
        node("node1", 1, flags=("DRAIN",)),
        node("node2", 1, partitions=("debug",)),
        node("node3", 2),
    )
    jobs = (
        running("11", "node1"),
        running("12", "node2"),
        running("13", "node3", elapsed=99999),
        running("14", "node3", elapsed=1),
        pending("20", 4),
    )
    result = plan_defrag(SlurmCluster(name="c", status="ok", nodes=nodes, jobs=jobs))
    # Only node3 qualifies; its two jobs must go, and could run again only on node1 (draining)
    # or node2 (another partition): refused.
    assert result.moves == ()
    assert result.refusals == ("20: the requeued jobs would have nowhere to run",)


def test_caps_on_moves() -> None:
    nodes = (node("node1", 4, total=4), node("node2", 0, total=4))
    jobs = (*tuple(running(str(10 + n), "node1") for n in range(4)), pending("20", 4, nodes=2))
    assert plan_defrag(
        SlurmCluster(name="c", status="ok", nodes=nodes, jobs=jobs), Limits(max_moves=3)
    ).refusals == ("20: needs 4 requeues (cap 3)",)
