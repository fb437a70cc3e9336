"""Parsing Slurm 22.05's output in the explicit formats aiconsole asks for (recorded on the
test estate: tests/fixtures/slurm), and building its commands from validated values."""

from __future__ import annotations

import pytest

from aiconsole.actions.plan import Plan
from aiconsole.actions.policy import ActionRefused, Policy
from aiconsole.actions.slurm import plan_drain, plan_release, plan_requeue, plan_resume
from aiconsole.model import SlurmCluster
from aiconsole.slurm import commands
from aiconsole.slurm.commands import InvalidArgument
from aiconsole.slurm.parse import (
    duration_s,
    gpu_count,
    gpu_indices,
    parse_nodes,
)
from aiconsole.slurm.reader import cluster_from
from tests.conftest import FIXTURES

SLURM = FIXTURES / "slurm"


def recorded_cluster() -> SlurmCluster:
    return cluster_from(
        "estate",
        (SLURM / "sinfo-nodes.txt").read_text(),
        (SLURM / "squeue-jobs.txt").read_text(),
        (SLURM / "scontrol-show-job-d-o.txt").read_text(),
    )


def test_nodes_with_drain_states_reasons_and_gpus() -> None:
    nodes, skipped = parse_nodes((SLURM / "sinfo-nodes.txt").read_text())
    assert skipped == 0
    by_name = {node.name: node for node in nodes}
    assert by_name["node1"].summary == "drained"
    assert by_name["node2"].summary == "draining"
    assert by_name["node2"].flags == ("DRAIN",)
    # A "|" inside the reason stays in the reason: it is the last field.
    assert by_name["node2"].reason == "xid 79 | GPU fell off the bus"
    assert by_name["node2"].reason_user == "root"
    assert (by_name["node3"].gpus_used, by_name["node3"].gpus_total) == (2, 4)
    assert (by_name["node3"].cpus_allocated, by_name["node3"].cpus_total) == (2, 4)
    assert by_name["node3"].reason is None
    assert by_name["node4"].partitions == ("main",)


def test_not_responding_and_odd_lines() -> None:
    text = (
        "node9|down*+drain|0/0/4/4|2000|gpu:4|gpu:0|main*|root|2026-11-21T11:39:17|"
        "Not responding|\n"
        "garbage without fields\n"
    )
    (node,), skipped = parse_nodes(text)
    assert node.summary == "drained*"
    assert "NOT_RESPONDING" in node.flags and "DRAIN" in node.flags
    assert skipped == 1


def test_jobs_with_arrays_held_and_gpu_indices() -> None:
    cluster = recorded_cluster()
    jobs = {job.job_id: job for job in cluster.jobs}
    train = jobs["1"]
    assert (train.name, train.user, train.state, train.nodes) == (
        "train llama",
        "root",
        "RUNNING",
        ("node2",),
    )
    assert train.gpus_per_node == 2
    assert train.gpu_indices == {"node2": (0, 1)}
    assert train.restarts == 0
    assert train.time_limit_s is None  # UNLIMITED
    array_task = jobs["4"]
    assert (array_task.array_job_id, array_task.array_task_id) == ("2", "0")
    assert array_task.name == "eval|sweep"
    assert array_task.nodes == ("node3", "node4")
    assert set(array_task.gpu_indices) == {"node3", "node4"}
    held = jobs["3"]
    assert (held.state, held.reason, held.nodes) == ("PENDING", "JobHeldUser", ())


def test_small_parsers() -> None:
    assert gpu_count("gpu:h100:8(S:0-1),shard:4") == 8
    assert gpu_count("(null)") is None
    assert gpu_indices("gpu:h100:3(IDX:0,2-3)") == (0, 2, 3)
    assert duration_s("1-02:03:04") == 93784
    assert duration_s("5:07") == 307
    assert duration_s("UNLIMITED") is None


@pytest.mark.parametrize(
    "bad", ["node1;id", "$(reboot)", "-oProxyCommand=x", "node 1", "", "a" * 70, "node1\n"]
)
def test_node_names_that_could_smuggle_arguments_are_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid node name"):
        commands.drain([bad], "maintenance")


@pytest.mark.parametrize("bad", ["1;id", "12 13", "-1", "abc", "1_", "$(id)"])
def test_job_ids_are_validated(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid job id"):
        commands.requeue([bad])


def test_reasons_must_be_one_printable_line() -> None:
    with pytest.raises(InvalidArgument, match="required"):
        commands.drain(["node1"], "  ")
    with pytest.raises(InvalidArgument, match="control characters"):
        commands.drain(["node1"], "xid\nState=RESUME")
    # Shell syntax is just text: it is one argument, never interpreted.
    argv = commands.drain(["node1"], "$(touch /tmp/x); `id`")
    assert argv[-1] == "Reason=$(touch /tmp/x); `id`"


def test_drain_plan_shows_running_jobs_and_their_gpus() -> None:
    plan = plan_drain(recorded_cluster(), ["node3"], "xid 79", Policy(max_out_of_service=0.5))
    assert plan.allowed
    (impact,) = plan.impacts
    assert impact.current == "mixed"
    # Array task 2_0 holds GPU 0 on node3 (recorded: GRES=gpu:1(IDX:0)), 2_1 holds GPU 1.
    assert any("job 2_0" in hit and ", GPU 0:" in hit for hit in impact.hits)
    assert any("job 2_1" in hit and ", GPU 1:" in hit for hit in impact.hits)
    assert all(hit.endswith(": left to finish") for hit in impact.hits)
    assert plan.command == (
        "scontrol", "update", "NodeName=node3", "State=DRAIN", "Reason=xid 79"
    )  # fmt: skip
    assert "then waits until each node shows DRAIN" in plan.describe()
    assert "  node3 (mixed)" in plan.describe().splitlines()


def test_blast_radius_refuses_a_large_share_unless_forced() -> None:
    cluster = recorded_cluster()
    plan = plan_drain(cluster, ["node3", "node4"], "rack swap", Policy())
    assert not plan.allowed
    assert "2 of 4 nodes of partition main" in plan.refusals[0]
    forced = plan_drain(cluster, ["node3", "node4"], "rack swap", Policy(force=True))
    assert forced.allowed
    # Already drained nodes are not taken out again, so they do not count.
    again = plan_drain(cluster, ["node1", "node2", "node3"], "again", Policy())
    assert again.allowed and len(again.warnings) == 2


def test_unknown_targets_are_refused_and_known_ones_planned() -> None:
    cluster = recorded_cluster()
    assert plan_resume(cluster, ["node7"], Policy()).refusals == (
        "no node node7 in cluster estate",
    )
    requeue = plan_requeue(cluster, ["1", "99"], False, Policy())
    assert requeue.refusals == ("no job 99 in cluster estate",)
    assert requeue.before == {"1": "0"}
    assert "restarts 0 -> 1" in requeue.impacts[0].hits[0]
    release = plan_release(cluster, ["3"], Policy())
    assert release.allowed and not release.warnings


def test_viewer_and_read_only_cannot_act() -> None:
    with pytest.raises(ActionRefused, match="viewer"):
        Policy(role="viewer").check_can_act()
    with pytest.raises(ActionRefused, match="read-only"):
        Policy(read_only=True).check_can_act()
    Policy().check_can_act()


def test_plan_record_is_plain_data() -> None:
    plan: Plan = plan_drain(recorded_cluster(), ["node4"], "fan", Policy())
    record = plan.as_record()
    assert record["targets"] == ["node4"] and record["reason"] == "fan"
