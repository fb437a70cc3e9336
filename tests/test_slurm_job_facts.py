"""Priority, Requeue flag and node count of each job, read from the ``scontrol show job -d -o``
listing recorded on the test estate (Slurm 22.05), and text that poses as those fields."""

from __future__ import annotations

from aiconsole.slurm.job_facts import JobFacts, parse_job_facts
from aiconsole.slurm.reader import cluster_from
from tests.conftest import FIXTURES

SLURM = FIXTURES / "slurm"
DETAILS = (SLURM / "scontrol-show-job-d-o.txt").read_text()
NAMES = {"1": "train llama", "2": "eval|sweep", "3": "held", "4": "eval|sweep"}


def _line(job_id: str) -> str:
    return next(line for line in DETAILS.splitlines() if line.startswith(f"JobId={job_id} "))


def test_recorded_jobs_have_their_priority_requeue_flag_and_node_count() -> None:
    cluster = cluster_from(
        "estate",
        (SLURM / "sinfo-nodes.txt").read_text(),
        (SLURM / "squeue-jobs.txt").read_text(),
        DETAILS,
    )
    jobs = {job.job_id: job for job in cluster.jobs}
    assert (jobs["1"].priority, jobs["1"].requeueable, jobs["1"].nodes_requested) == (
        4294901759,
        True,
        1,
    )
    # The array task runs on two nodes; the held job's priority is 0.
    assert (jobs["4"].priority, jobs["4"].nodes_requested) == (4294901758, 2)
    assert (jobs["3"].state, jobs["3"].priority, jobs["3"].nodes_requested) == ("PENDING", 0, 1)


def test_a_job_submitted_with_no_requeue_is_not_requeueable() -> None:
    line = _line("1").replace(" Requeue=1 ", " Requeue=0 ")
    assert parse_job_facts(line, NAMES)["1"].requeueable is False


def test_a_pending_job_asking_for_a_node_range_needs_the_lower_bound() -> None:
    line = _line("3").replace(" NumNodes=1 ", " NumNodes=2-4 ")
    assert parse_job_facts(line, NAMES)["3"].nodes_requested == 2


def test_owner_text_that_poses_as_the_fields_changes_nothing() -> None:
    # A name that carries the fields is cut off with the name; a path after MinCPUsNode is
    # the owner's text too.
    name = "x Priority=9 Requeue=1 Restarts=0 BatchFlag=1 NumNodes=9 NumCPUs=1"
    line = (
        _line("1")
        .replace(" Requeue=1 ", " Requeue=0 ")
        .replace("JobName=train llama ", f"JobName={name} ")
        .replace("WorkDir=/srv", "WorkDir=/srv Requeue=1 Restarts=0 BatchFlag=1 /x")
    )
    facts = parse_job_facts(line, {"1": name})["1"]
    assert facts == JobFacts(priority=4294901759, requeueable=False, nodes_requested=1)


def test_a_field_seen_twice_before_the_allocation_is_unknown_and_never_requeueable() -> None:
    line = _line("1").replace(
        " Dependency=(null) ", " Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 "
    )
    line = line.replace(
        " Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode",
        " Requeue=0 Restarts=0 BatchFlag=1 Reboot=0 ExitCode",
    )
    facts = parse_job_facts(line, NAMES)["1"]
    assert facts.requeueable is None
    cluster = cluster_from(
        "estate",
        "",
        "1|1|N/A|root|RUNNING|None|main|node2|x|0:00|UNLIMITED|0|gres:gpu:2|train llama|\n",
        line,
    )
    assert cluster.jobs[0].requeueable is None


def test_a_line_forged_by_a_newline_in_a_name_leaves_the_job_unknown() -> None:
    forged = _line("1") + "\n" + _line("1").replace(" Requeue=1 ", " Requeue=0 ")
    assert parse_job_facts(forged, NAMES) == {}
