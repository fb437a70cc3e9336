"""A rebalance result turned into one plan of the action machinery: commands, caps, refusals,
the before/after table, and the verification after it ran (on modelled clusters)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.execute import carry_out
from aiconsole.actions.plan import Plan
from aiconsole.actions.policy import ActionRefused, Policy
from aiconsole.actions.rebalance import Caps, plan_rebalance, verifier_for
from aiconsole.model import SlurmCluster, SlurmJob
from aiconsole.rebalance.defrag import plan_defrag
from aiconsole.rebalance.moves import Move, Result
from tests.test_rebalance_defrag import node, pending, running


def spread() -> SlurmCluster:
    """Four nodes with one 1-GPU job each and a pending 4-GPU job: nothing fits it."""
    return SlurmCluster(
        name="estate",
        status="ok",
        nodes=tuple(node(f"node{n}", 1) for n in range(1, 5)),
        jobs=(
            running("11", "node1", elapsed=7200),
            running("12", "node2", elapsed=60, user="carol"),
            running("13", "node3", elapsed=3600),
            running("14", "node4", elapsed=3600),
            pending("20", 4),
        ),
    )


def test_defrag_plan_requeues_the_cheapest_job_and_names_the_job_that_starts() -> None:
    cluster = spread()
    plan = plan_rebalance(plan_defrag(cluster), cluster, Policy())
    assert plan.allowed, plan.refusals
    assert plan.action == "rebalance-defrag"
    assert plan.command == ("scontrol", "requeue", "12")
    assert plan.then == ()
    assert plan.targets == ("12", "20")
    text = plan.describe()
    assert "requeued: from node2 to node" in text
    assert "why: frees 1 GPU(s) on node2 for 20" in text
    assert "20 (PENDING)" in text and "starts once the requeued jobs free their GPUs" in text
    # Before/after: node2 goes from 1/4 to 4/4 (the pending job), one other node takes job 12.
    assert any(line.split()[:5] == ["node2", "1/4", "->", "4/4", "-"] for line in plan.details)
    assert "figure of merit: pending GPUs that start 4" in text
    assert plan.as_record()["details"] == list(plan.details)


def test_hot_move_requeues_then_keeps_the_job_off_the_hot_node() -> None:
    cluster = spread()
    move = Move("13", "requeue", "node3", "node1", "node3: GPU at 91 C", 1, "alice", 1.0,
                exclude=("node3",))  # fmt: skip
    plan = plan_rebalance(Result("hot", moves=(move,)), cluster, Policy())
    assert plan.command == ("scontrol", "requeue", "13")
    assert plan.then == (("scontrol", "update", "JobId=13", "ExcNodeList=node3"),)
    assert "then: scontrol update JobId=13 ExcNodeList=node3" in plan.describe()
    assert "none runs on the node it left" in plan.expect


def test_a_job_slurm_may_not_requeue_is_refused_whatever_the_planner_said() -> None:
    cluster = SlurmCluster(
        name="estate",
        status="ok",
        nodes=(node("node1", 1), node("node2", 0), node("node3", 0), node("node4", 0)),
        jobs=(running("11", "node1", requeue=False),),
    )
    move = Move("11", "requeue", "node1", None, "hot", 1, "alice", exclude=("node1",))
    plan = plan_rebalance(Result("hot", moves=(move,)), cluster, Policy())
    assert not plan.allowed
    assert "job 11 is not requeueable (Requeue=0 or unknown)" in plan.refusals


def test_caps_per_node_and_user_leave_moves_for_a_later_cycle() -> None:
    cluster = spread()
    moves = tuple(
        Move(j, "requeue", f"node{n}", None, "hot", 1, owner)
        for j, n, owner in (("11", 1, "alice"), ("13", 3, "alice"), ("14", 4, "alice"))
    )
    plan = plan_rebalance(
        Result("hot", moves=moves), cluster, Policy(force=True), Caps(max_per_user=2)
    )
    assert plan.command == ("scontrol", "requeue", "11,13")
    assert plan.warnings == ("left for a later cycle: 14: over the cap of 2 moves of alice",)


def test_a_defrag_plan_cut_by_a_cap_is_refused_whole() -> None:
    cluster = spread()
    result = plan_defrag(cluster)
    plan = plan_rebalance(result, cluster, Policy(), Caps(max_moves=0))
    assert not plan.allowed
    assert "the plan needs every requeue to start 20" in plan.refusals[0]


def test_blast_radius_counts_the_nodes_whose_work_is_disturbed() -> None:
    cluster = spread()
    moves = (
        Move("11", "requeue", "node1", None, "hot", 1, "alice"),
        Move("12", "requeue", "node2", None, "hot", 1, "carol"),
    )
    plan = plan_rebalance(Result("hot", moves=moves), cluster, Policy())
    assert any("takes 2 of 4 nodes of partition main" in r for r in plan.refusals)


def test_an_idle_notify_plan_has_no_command_and_cannot_be_carried_out() -> None:
    cluster = spread()
    move = Move("11", "notify", "node1", None, "1 GPU(s) idle for 45 min", 1, "alice")
    result = Result("idle", moves=(move,), merit={"gpu_hours_wasted": 0.75})
    plan = plan_rebalance(result, cluster, Policy())
    assert plan.command == () and plan.allowed
    text = plan.describe()
    assert "notify alice: nothing is done to the job" in text
    assert "figure of merit: GPU-hours wasted so far 0.75" in text
    assert "command: none" in text

    async def run(argv: list[str]) -> tuple[bool, str]:
        raise AssertionError("nothing may run")

    with pytest.raises(ActionRefused):
        asyncio.run(
            carry_out(
                plan,
                policy=Policy(),
                audit=AuditLog(None),
                run=run,
                verifier=verifier_for(result)(lambda: asyncio.sleep(0, cluster)),
            )
        )


def _after(cluster: SlurmCluster, changes: dict[str, SlurmJob]) -> SlurmCluster:
    jobs = tuple(changes.get(job.job_id, job) for job in cluster.jobs)
    return SlurmCluster(name=cluster.name, status="ok", nodes=cluster.nodes, jobs=jobs)


def test_the_requeues_and_the_start_are_verified_and_audited(tmp_path: Path) -> None:
    cluster = spread()
    result = plan_defrag(cluster)
    plan = plan_rebalance(result, cluster, Policy())
    ran: list[list[str]] = []
    done = _after(
        cluster,
        {
            "12": SlurmJob(job_id="12", state="PENDING", reason="BeginTime", restarts=1),
            "20": SlurmJob(job_id="20", state="RUNNING", nodes=("node2",)),
        },
    )

    async def run(argv: list[str]) -> tuple[bool, str]:
        ran.append(argv)
        return True, ""

    async def read() -> SlurmCluster:
        return done

    audit = AuditLog(tmp_path / "audit.jsonl")
    outcome = asyncio.run(
        carry_out(plan, policy=Policy(), audit=audit, run=run, verifier=verifier_for(result)(read))
    )
    assert ran == [["scontrol", "requeue", "12"]]
    assert outcome.ok, outcome.results
    intent, recorded = audit.records()
    assert intent["action"] == "rebalance-defrag"
    assert intent["plan"]["details"] == list(plan.details)
    assert recorded["ok"] is True


def test_a_job_back_on_the_node_it_was_moved_off_is_not_verified() -> None:
    cluster = spread()
    move = Move("13", "requeue", "node3", "node1", "hot", 1, "alice", exclude=("node3",))
    result = Result("hot", moves=(move,))
    plan = plan_rebalance(result, cluster, Policy())
    back = _after(
        cluster, {"13": SlurmJob(job_id="13", state="RUNNING", nodes=("node3",), restarts=1)}
    )

    async def read() -> SlurmCluster:
        return back

    (checked,) = asyncio.run(verifier_for(result)(read).check(plan))
    assert not checked.ok and checked.detail == "back on node3"


def test_a_failed_exclusion_is_reported_after_the_requeue_it_follows(tmp_path: Path) -> None:
    cluster = spread()
    move = Move("13", "requeue", "node3", "node1", "hot", 1, "alice", exclude=("node3",))
    result = Result("hot", moves=(move,))
    plan = plan_rebalance(result, cluster, Policy())
    moved = _after(cluster, {"13": SlurmJob(job_id="13", state="PENDING", restarts=1)})

    async def run(argv: list[str]) -> tuple[bool, str]:
        return argv[1] == "requeue", "Job is no longer pending execution"

    async def read() -> SlurmCluster:
        return moved

    outcome = asyncio.run(
        carry_out(plan, policy=Policy(), audit=AuditLog(tmp_path / "a.jsonl"), run=run,
                  verifier=verifier_for(result)(read))
    )  # fmt: skip
    assert outcome.status == "failed"
    assert "ExcNodeList=node3: Job is no longer pending execution" in (outcome.error or "")
    assert [r.ok for r in outcome.results] == [True]


def test_viewer_cannot_carry_out_a_rebalance() -> None:
    cluster = spread()
    result = plan_defrag(cluster)
    plan: Plan = plan_rebalance(result, cluster, Policy(role="viewer"))

    async def run(argv: list[str]) -> tuple[bool, str]:
        raise AssertionError("nothing may run")

    for policy in (Policy(role="viewer"), Policy(read_only=True)):
        with pytest.raises(ActionRefused):
            asyncio.run(
                carry_out(plan, policy=policy, audit=AuditLog(None), run=run,
                          verifier=verifier_for(result)(lambda: asyncio.sleep(0, cluster)))
            )  # fmt: skip
