"""Slurm output written by hostile or unusual hands: free text that looks like keys, odd
bytes and digits, state suffixes, array tasks, stale readings. Recorded-fixture based."""

from __future__ import annotations

import pytest

from aiconsole.actions.policy import Policy
from aiconsole.actions.slurm import SlurmVerifier, plan_action, plan_drain, plan_requeue
from aiconsole.model import SlurmCluster
from aiconsole.slurm import commands
from aiconsole.slurm.commands import InvalidArgument
from aiconsole.slurm.parse import (
    duration_s,
    gpu_indices,
    parse_job_details,
    parse_jobs,
    parse_nodes,
    parse_state,
)
from aiconsole.slurm.reader import cluster_from
from tests.test_slurm_parse import SLURM, recorded_cluster

DETAILS = (SLURM / "scontrol-show-job-d-o.txt").read_text()
JOBS = (SLURM / "squeue-jobs.txt").read_text()
NODES = (SLURM / "sinfo-nodes.txt").read_text()


def _rename(job_id: str, name: str) -> tuple[str, str]:
    """The recorded squeue and scontrol outputs with job ``job_id`` renamed to ``name``."""
    old = {"1": "train llama", "3": "held"}[job_id]
    jobs = "\n".join(
        line[: -len(old) - 1] + name + "|" if line.startswith(f"{job_id}|") else line
        for line in JOBS.splitlines()
    )
    details = DETAILS.replace(f"JobId={job_id} JobName={old} ", f"JobId={job_id} JobName={name} ")
    return jobs, details


def test_a_job_name_that_looks_like_keys_gives_nobody_gpus_or_restarts() -> None:
    # The owner of held job 3 names it to look like job 1 holding 8 GPUs on node3.
    jobs, details = _rename("3", "x Nodes=node3 CPU_IDs=0 Mem=0 GRES=gpu:8(IDX:0-7) JobId=1")
    cluster = cluster_from("estate", NODES, jobs, details)
    by_id = {job.job_id: job for job in cluster.jobs}
    assert by_id["3"].gpu_indices == {}  # pending: holds nothing, whatever its name says
    assert by_id["1"].gpu_indices == {"node2": (0, 1)}  # as recorded, not node3:0-7
    assert by_id["3"].name == "x Nodes=node3 CPU_IDs=0 Mem=0 GRES=gpu:8(IDX:0-7) JobId=1"


def test_free_text_after_the_allocation_cannot_replace_it() -> None:
    # StdOut is the user's path; it comes after the real allocation in the line.
    forged = DETAILS.replace(
        "StdOut=/srv/estate/jobs/slurm-1.out",
        "StdOut=/tmp/a Nodes=node2 CPU_IDs=0 Mem=0 GRES=gpu:4(IDX:0-3) Restarts=9",
    )
    cluster = cluster_from("estate", NODES, JOBS, forged)
    (train,) = [job for job in cluster.jobs if job.job_id == "1"]
    assert train.gpu_indices == {"node2": (0, 1)}
    assert train.restarts == 0  # from squeue's RestartCnt column


def test_restarts_come_from_squeue_not_from_a_name() -> None:
    jobs, details = _rename("1", "y Restarts=7 JobId=1")
    (train,) = [job for job in cluster_from("e", NODES, jobs, details).jobs if job.job_id == "1"]
    assert train.restarts == 0
    assert train.gpu_indices == {"node2": (0, 1)}  # the name is skipped by its length


def test_huge_gpu_index_ranges_cost_nothing() -> None:
    assert gpu_indices("gpu:1(IDX:0-4000000000)") == ()
    assert gpu_indices("gpu:2(IDX:3,1-2,9999)") == (1, 2, 3)
    details = DETAILS.replace("GRES=gpu:2(IDX:0-1)", "GRES=gpu:2(IDX:0-4000000000)")
    (train,) = [j for j in cluster_from("e", NODES, JOBS, details).jobs if j.job_id == "1"]
    assert train.gpu_indices == {"node2": ()}


@pytest.mark.parametrize("digit", ["²", "٣", "１"])
def test_only_ascii_digits_are_numbers(digit: str) -> None:
    assert duration_s(f"1:0{digit}") is None
    assert duration_s(digit) is None
    assert gpu_indices(f"gpu:1(IDX:{digit})") == ()
    line = f"node1|idle|0/4/0/4|2000|gpu:{digit}|gpu:0|main*|Unknown|Unknown|none|\n"
    (node,), skipped = parse_nodes(line)
    assert (node.gpus_total, skipped) == (None, 0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5", 300),  # a bare number is minutes
        ("5:07", 307),
        ("1:02:03", 3723),
        ("2-03", 2 * 86400 + 3 * 3600),  # days-hours
        ("2-03:04", 2 * 86400 + 3 * 3600 + 4 * 60),
        ("1-02:03:04", 93784),
        ("UNLIMITED", None),
        ("1-", None),
        ("-5", None),
        ("1:2:3:4", None),
        ("", None),
    ],
)
def test_durations(text: str, seconds: int | None) -> None:
    assert duration_s(text) == seconds


@pytest.mark.parametrize(
    ("text", "state", "flags"),
    [
        ("idle~", "idle", ("POWERED_DOWN",)),
        ("drain$", "idle", ("MAINT", "DRAIN")),
        ("mixed@", "mixed", ("REBOOT_REQUESTED",)),
        ("idle^", "idle", ("REBOOT_ISSUED",)),
        ("idle-", "idle", ("PLANNED",)),
        ("idle#", "idle", ("POWERING_UP",)),
        ("down*+drain", "down", ("NOT_RESPONDING", "DRAIN")),
        ("drng", "mixed", ("DRAIN",)),
        ("allocated+drain+maint", "allocated", ("DRAIN", "MAINT")),
        ("", "unknown", ()),
    ],
)
def test_state_suffixes_become_flags(text: str, state: str, flags: tuple[str, ...]) -> None:
    assert parse_state(text) == (state, flags)


def test_a_draining_node_with_a_suffix_still_reads_as_draining() -> None:
    line = "node9|drng@|4/0/0/4|2000|gpu:4|gpu:4|main*|root|2026-11-21T11:39:17|swap|\n"
    (node,), _ = parse_nodes(line)
    assert (node.summary, node.flags) == ("draining", ("REBOOT_REQUESTED", "DRAIN"))


def test_a_node_in_several_partitions_counts_in_each_for_the_blast_radius() -> None:
    # gpu1 is in "big" (2 nodes) and "all" (4 nodes): draining it takes half of "big".
    lines = [
        f"{name}|idle|0/4/0/4|2000|gpu:4|gpu:0|{partition}|Unknown|Unknown|none|"
        for name, partition in [
            ("gpu1", "all*"), ("gpu1", "big"), ("gpu2", "all*"), ("gpu2", "big"),
            ("gpu3", "all*"), ("gpu4", "all*"),
        ]
    ]  # fmt: skip
    nodes, skipped = parse_nodes("\n".join(lines))
    assert skipped == 0
    assert {node.name: node.partitions for node in nodes}["gpu1"] == ("all", "big")
    cluster = SlurmCluster(name="c", status="ok", nodes=tuple(nodes))
    plan = plan_drain(cluster, ["gpu1"], "fan", Policy(max_out_of_service=0.3))
    assert plan.refusals == (
        "takes 1 of 2 nodes of partition big out of service (more than 30%); "
        "use --force if that is meant",
    )
    assert plan_drain(cluster, ["gpu3"], "fan", Policy(max_out_of_service=0.3)).allowed


def test_an_array_task_is_acted_on_by_its_slurm_name() -> None:
    cluster = recorded_cluster()  # array 2: task 2_0 has JobID 4, task 2_1 has JobID 2
    plan = plan_requeue(cluster, ["2_1"], False, Policy())
    assert plan.allowed and plan.targets == ("2_1",)
    assert plan.command == ("scontrol", "requeue", "2_1")
    by_own_id = plan_requeue(cluster, ["4"], False, Policy())
    assert by_own_id.targets == ("2_0",) and by_own_id.command[-1] == "2_0"


def test_a_bare_array_id_is_refused_naming_every_task_it_would_touch() -> None:
    # "scontrol requeue 2" requeues all of array 2, though JobID 2 is the task 2_1.
    plan = plan_requeue(recorded_cluster(), ["2"], False, Policy())
    assert not plan.allowed
    assert plan.refusals == (
        "job 2 is array 2 in cluster estate: Slurm would act on every task of it "
        "(2_0 2_1); name the tasks instead",
    )


async def test_verification_finds_array_tasks_by_their_slurm_name() -> None:
    cluster = recorded_cluster()
    plan = plan_requeue(cluster, ["2_1"], False, Policy())

    async def read() -> SlurmCluster:
        return cluster  # the same reading: nothing requeued yet

    (result,) = await SlurmVerifier(read).check(plan)
    assert (result.target, result.ok, result.state) == ("2_1", False, "RUNNING, restarts 0")


def test_a_plan_from_a_stale_reading_says_so_with_the_age() -> None:
    cluster = recorded_cluster()
    stale = SlurmCluster(
        name="estate",
        status="stale",
        reason="estate: scontrol did not answer within 5 s",
        collected_at=1000.0,
        nodes=cluster.nodes,
        jobs=cluster.jobs,
    )
    plan = plan_action(stale, "drain", ["node4"], Policy(), "fan")
    assert plan.caution is not None
    assert plan.caution.startswith(
        "cluster estate is stale (estate: scontrol did not answer within 5 s); data from "
    )
    assert plan.describe().splitlines()[1].startswith("  CAUTION: cluster estate is stale")
    assert plan_action(cluster, "drain", ["node4"], Policy(), "fan").caution is None


@pytest.mark.parametrize(
    "bad", ["xid \x9b31m", "fan \u202eevil", "a\x1bb", "tab\there", "x\u2066y"]
)
def test_reasons_with_c1_controls_or_bidi_overrides_are_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="control characters"):
        commands.check_reason(bad)


@pytest.mark.parametrize("bad", ["-oProxyCommand=touch /tmp/x", "a b", "", "host;id", "é"])
def test_slurm_hosts_that_could_read_as_options_are_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid Slurm host"):
        commands.check_host(bad)


@pytest.mark.parametrize("good", ["local", "login1", "ops@login-1.example.org", "ctl"])
def test_ordinary_slurm_hosts_pass(good: str) -> None:
    assert commands.check_host(good) == good


def test_squeue_array_task_whose_id_is_the_array_id_keeps_its_task() -> None:
    (job,), skipped = parse_jobs(
        "3|3|2|root|RUNNING|None|main|node1|2026-11-21T13:25:39|0:05|5|1|gres:gpu:1|sweep|\n"
    )
    assert skipped == 0
    assert (job.job_id, job.array_job_id, job.array_task_id) == ("3", "3", "2")
    assert (job.time_limit_s, job.restarts) == (300, 1)


def test_details_for_jobs_squeue_did_not_list_are_ignored() -> None:
    assert parse_job_details(DETAILS, {}) == {}


def test_a_job_name_with_a_newline_cannot_forge_a_squeue_record() -> None:
    # Slurm accepts any name (sbatch -J $'x|\n1234|...'); squeue prints it as it is.
    forged_line = "1234|1234|N/A|alice|RUNNING|None|main|node4|x|0:01|UNLIMITED|0|gres:gpu:4|f|"
    end = "e0123456789abcdef"
    text = (
        f"555|555|N/A|mallory|PENDING|None|main||N/A|0:00|5|0|gres:gpu:1|x|\n{forged_line}|{end}\n"
        f"1|1|N/A|root|RUNNING|None|main|node2|x|0:00|UNLIMITED|0|gres:gpu:2|train|{end}\n"
    )
    jobs, skipped = parse_jobs(text, end)
    assert skipped == 0
    assert [job.job_id for job in jobs] == ["555", "1"]
    assert jobs[0].name == f"x|\n{forged_line}"
    assert jobs[1].name == "train"


def test_a_forged_scontrol_line_drops_the_details_of_the_job_it_copies() -> None:
    # A name with a newline can start a line "JobId=1 JobName=train llama ..." of its own:
    # job 1 then has two lines, and neither is believed.
    forged = DETAILS.splitlines()[0].replace("IDX:0-1", "IDX:2-3")
    details = DETAILS + forged + "\n"
    cluster = cluster_from("estate", NODES, JOBS, details)
    (train,) = [job for job in cluster.jobs if job.job_id == "1"]
    assert train.gpu_indices == {}
    (task,) = [job for job in cluster.jobs if job.job_id == "4"]
    assert task.gpu_indices == {"node3": (0,), "node4": (0,)}  # other jobs unaffected


def test_a_name_with_a_newline_keeps_its_own_details() -> None:
    details = DETAILS.replace("JobName=train llama ", "JobName=train\nllama ")
    jobs = JOBS.replace("|train llama|", "|train\nllama|")
    end = "e0123456789abcdef"
    marked = "".join(f"{line}{end}\n" for line in jobs.split("|\n") if line.strip())
    marked = marked.replace(f"{end}\n", f"|{end}\n")
    nodes = "".join(f"{line}{end}\n" for line in NODES.splitlines())
    cluster = cluster_from("estate", nodes, marked, details, end)
    (train,) = [job for job in cluster.jobs if job.job_id == "1"]
    assert train.name == "train\nllama"
    assert train.gpu_indices == {"node2": (0, 1)}


def test_commands_end_the_free_text_field_with_the_marker() -> None:
    assert commands.list_jobs("eabcdef012")[-1].endswith(",Name:|eabcdef012")
    assert commands.list_nodes("eabcdef012")[-1].endswith(",Reason:|eabcdef012")
    assert "--array" in commands.list_jobs("eabcdef012")
    with pytest.raises(InvalidArgument):
        commands.list_jobs("a,b")
