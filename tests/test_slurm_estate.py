"""Real Slurm (slurmctld + 4 slurmd on the estate): reading, acting, auditing, refusing.

Commands go over SSH to the controller host, as an operator's console on a bastion would;
every state change is checked with ``scontrol`` itself, not with aiconsole's own reading.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiconsole.collectors.slurm import SlurmCollector
from aiconsole.slurm.runner import SshRunner
from aiconsole.store import FleetStore
from tests.conftest import run_aiconsole
from tests.estate import available, required
from tests.slurm_estate import SlurmEstate, slurm_available

pytestmark = required(available() or slurm_available())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmEstate]:
    with SlurmEstate(tmp_path_factory.mktemp("slurm"), nodes=4) as estate:
        yield estate


@pytest.fixture
def console(cluster: SlurmEstate, tmp_path: Path) -> Iterator[dict[str, object]]:
    """A config naming the cluster (reached over SSH on ctl) and a fresh audit log."""
    audit = tmp_path / "audit.jsonl"
    config = tmp_path / "config.toml"

    def write(role: str = "operator") -> None:
        config.write_text(
            f'[settings]\nssh_config = "{cluster.ssh_config}"\naudit_log = "{audit}"\n'
            f'role = "{role}"\n[clusters]\nestate = "ctl"\n'
        )

    write()
    yield {"config": str(config), "audit": audit, "write": write}
    # Leave the cluster as the next test expects it: no jobs, every node in service.
    cluster.slurm("scancel", "--user=root", check=False)
    cluster.slurm("scontrol", "update", "NodeName=node[1-4]", "State=RESUME", check=False)
    cluster.wait_until(
        lambda: not cluster.slurm("squeue", "-h", "-o", "%i").strip(), "queue empty", 30
    )


def aiconsole(console: dict[str, object], *args: str) -> tuple[int, str, str]:
    import os

    return run_aiconsole("--config", str(console["config"]), *args, env=dict(os.environ))


def audit_records(console: dict[str, object]) -> list[dict]:
    path = console["audit"]
    assert isinstance(path, Path)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_snapshot_shows_nodes_jobs_and_the_gpus_each_job_holds(
    cluster: SlurmEstate, console: dict[str, object]
) -> None:
    job = cluster.submit("-w", "node3", "--gres=gpu:3", "-J", "train")
    cluster.wait_until(lambda: cluster.job_field(job, "JobState") == "RUNNING", "job running")
    code, stdout, stderr = aiconsole(console, "snapshot", "--json")
    assert code == 0, stderr
    (estate,) = json.loads(stdout)["clusters"]
    assert estate["status"] == "ok"
    nodes = {node["name"]: node for node in estate["nodes"]}
    assert set(nodes) == {"node1", "node2", "node3", "node4"}
    assert (nodes["node3"]["gpus_used"], nodes["node3"]["gpus_total"]) == (3, 4)
    (listed,) = [j for j in estate["jobs"] if j["job_id"] == job]
    assert (listed["state"], listed["name"], listed["nodes"]) == ("RUNNING", "train", ["node3"])
    assert listed["gpu_indices"] == {"node3": [0, 1, 2]}


def test_drain_with_a_running_job_goes_draining_then_drained_with_audit(
    cluster: SlurmEstate, console: dict[str, object]
) -> None:
    job = cluster.submit("-w", "node2", "--gres=gpu:2")
    cluster.wait_until(lambda: cluster.job_field(job, "JobState") == "RUNNING", "job running")
    code, stdout, stderr = aiconsole(console, "drain", "node2", "--reason", "xid 79", "--yes")
    assert code == 0, stderr + stdout
    assert f"job {job} (root" in stdout and "GPU 0,1" in stdout and "left to finish" in stdout
    assert cluster.node_state("node2") == "MIXED+DRAIN"  # draining: the job still runs
    assert cluster.job_field(job, "JobState") == "RUNNING"
    intent, outcome = audit_records(console)
    assert (intent["phase"], outcome["phase"]) == ("intent", "outcome")
    assert intent["id"] == outcome["id"]
    assert (intent["action"], intent["targets"], intent["reason"]) == ("drain", ["node2"], "xid 79")
    assert intent["plan"]["command"] == [
        "scontrol", "update", "NodeName=node2", "State=DRAIN", "Reason=xid 79"
    ]  # fmt: skip
    assert outcome["ok"] is True
    assert outcome["results"] == [
        {"target": "node2", "ok": True, "state": "draining", "detail": ""}
    ]
    assert intent["user"] and intent["host"]
    cluster.slurm("scancel", job)
    cluster.wait_until(lambda: cluster.node_state("node2") == "IDLE+DRAIN", "drained")

    code, stdout, stderr = aiconsole(console, "resume", "node2", "--yes")
    assert code == 0, stderr
    assert cluster.node_state("node2") == "IDLE"
    assert [r["action"] for r in audit_records(console)] == ["drain", "drain", "resume", "resume"]


def test_requeue_puts_the_job_back_with_one_more_restart(
    cluster: SlurmEstate, console: dict[str, object]
) -> None:
    job = cluster.submit("-w", "node1", "--gres=gpu:1")
    cluster.wait_until(lambda: cluster.job_field(job, "JobState") == "RUNNING", "job running")
    code, stdout, stderr = aiconsole(console, "requeue", job, "--yes")
    assert code == 0, stderr + stdout
    assert "restarts 0 -> 1" in stdout
    assert cluster.job_field(job, "JobState") == "PENDING"
    assert cluster.job_field(job, "Restarts") == "1"
    assert audit_records(console)[-1]["ok"] is True


def test_requeue_hold_then_release(cluster: SlurmEstate, console: dict[str, object]) -> None:
    job = cluster.submit("-w", "node4", "--gres=gpu:1")
    cluster.wait_until(lambda: cluster.job_field(job, "JobState") == "RUNNING", "job running")
    code, _, stderr = aiconsole(console, "requeue", "--hold", job, "--yes")
    assert code == 0, stderr
    assert cluster.job_field(job, "JobState") == "PENDING"
    assert cluster.job_field(job, "Priority") == "0"  # held: Slurm will not schedule it
    code, _, stderr = aiconsole(console, "release", job, "--yes")
    assert code == 0, stderr
    assert cluster.job_field(job, "Priority") != "0"
    assert [r["action"] for r in audit_records(console)][::2] == ["requeue-hold", "release"]


def test_dry_run_and_refusals_change_nothing_and_audit_nothing(
    cluster: SlurmEstate, console: dict[str, object]
) -> None:
    code, stdout, _ = aiconsole(console, "drain", "node1", "--reason", "x", "--dry-run")
    assert code == 0 and "dry run: nothing was done" in stdout
    # Half the partition in one action: the blast-radius cap refuses.
    code, stdout, stderr = aiconsole(console, "drain", "node[1-2]", "--reason", "x", "--yes")
    assert code == 3
    assert "2 of 4 nodes of partition main" in stdout and "refused" in stderr
    # Without --yes and without a terminal: not confirmed.
    code, _, stderr = aiconsole(console, "drain", "node1", "--reason", "x")
    assert code == 3 and "not confirmed" in stderr
    # Names that could smuggle a second command or option are refused before any contact.
    code, _, stderr = aiconsole(console, "drain", "node1;reboot", "--reason", "x", "--yes")
    assert code == 1 and "node1;reboot" in stderr
    code, _, stderr = aiconsole(console, "requeue", "1;id", "--yes")
    assert code == 1 and "invalid job id" in stderr
    # A viewer, and anyone with --read-only, cannot act.
    code, _, stderr = aiconsole(console, "--read-only", "drain", "node1", "--reason", "x", "--yes")
    assert code == 3 and "read-only" in stderr
    write = console["write"]
    assert callable(write)
    write(role="viewer")
    code, _, stderr = aiconsole(console, "resume", "node1", "--yes")
    assert code == 3 and "viewer" in stderr
    for node in ("node1", "node2"):
        assert cluster.node_state(node) == "IDLE"
    assert audit_records(console) == []


def test_reason_with_shell_syntax_reaches_slurm_literally(
    cluster: SlurmEstate, console: dict[str, object], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    reason = f"$(touch {marker}); `touch {marker}` | x"
    code, _, stderr = aiconsole(console, "drain", "node4", "--reason", reason, "--yes")
    assert code == 0, stderr
    shown = cluster.slurm("sinfo", "-h", "-n", "node4", "-O", "Reason:|").strip().rstrip("|")
    assert shown == reason
    assert not marker.exists()


async def test_stopped_slurmctld_gives_a_clear_status_within_the_timeout(
    cluster: SlurmEstate,
) -> None:
    store = FleetStore()
    collector = SlurmCollector(
        "estate", SshRunner("ctl", str(cluster.ssh_config)), store, timeout=3
    )
    try:
        assert (await collector.poll_once()).status == "ok"
        cluster.stop_slurmctld()
        started = time.monotonic()
        cluster_state = await collector.poll_once()
        waited = time.monotonic() - started
        assert cluster_state.status == "stale"
        assert cluster_state.reason is not None
        assert "did not answer within 3 s" in cluster_state.reason
        assert len(cluster_state.nodes) == 4  # the last known state is kept, marked stale
        assert waited < 3 + 2  # bounded by the collector's own deadline, not Slurm's ~9 s
    finally:
        collector.close()
        cluster.start_slurmctld()
        cluster.wait_nodes_idle()


async def test_drain_from_the_tui_through_the_confirmation_modal(
    cluster: SlurmEstate, console: dict[str, object], tmp_path: Path
) -> None:
    from textual.widgets import DataTable, Input, Static

    from aiconsole.actions.audit import AuditLog
    from aiconsole.actions.policy import Policy
    from aiconsole.app import ConsoleApp
    from aiconsole.fleet import Fleet
    from aiconsole.screens.jobs import JobsScreen
    from aiconsole.screens.plan import PlanScreen, ReasonScreen
    from tests.test_screens import wait_for

    job = cluster.submit("-w", "node2", "--gres=gpu:2", "-J", "train")
    cluster.wait_until(lambda: cluster.job_field(job, "JobState") == "RUNNING", "job running")
    audit = AuditLog(tmp_path / "tui-audit.jsonl")

    def app_with(policy: Policy) -> ConsoleApp:
        store = FleetStore()
        runner = SshRunner("ctl", str(cluster.ssh_config))
        collector = SlurmCollector("estate", runner, store, interval=0.5, timeout=5)
        return ConsoleApp(
            Fleet(store, [], clusters=[collector]), refresh_interval=0.2, policy=policy, audit=audit
        )

    # A viewer sees the cluster but has no drain key.
    viewer = app_with(Policy(role="viewer"))
    async with viewer.run_test(size=(120, 40)) as pilot:
        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(viewer.screen, JobsScreen))
        nodes = viewer.screen.query_one("#nodes-table", DataTable)
        await wait_for(pilot, lambda: nodes.row_count == 4)
        nodes.focus()
        await pilot.press("d")
        await pilot.pause(0.3)
        assert isinstance(viewer.screen, JobsScreen)  # no reason prompt, nothing planned
    assert audit_records({"audit": audit.path}) == []

    app = app_with(Policy())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        screen = app.screen
        nodes = screen.query_one("#nodes-table", DataTable)
        await wait_for(pilot, lambda: nodes.row_count == 4)
        jobs = screen.query_one("#jobs-table", DataTable)
        await wait_for(pilot, lambda: jobs.row_count == 1)
        assert [str(c) for c in jobs.get_row_at(0)][7] == "node2:0,1"  # the GPUs it holds
        nodes.focus()
        nodes.move_cursor(row=nodes.get_row_index("node2"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonScreen))
        app.screen.query_one("#reason-input", Input).value = "xid 79"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen))
        modal = app.screen
        assert isinstance(modal, PlanScreen)
        plan_text = str(modal.query_one("#plan-text", Static).render())
        assert f"job {job} (root, train)" in plan_text and "GPU 0,1" in plan_text
        assert cluster.node_state("node2") == "MIXED"  # nothing happens before the yes
        await pilot.press("y")
        progress = modal.query_one("#plan-progress", Static)
        await wait_for(
            pilot, lambda: modal.outcome is not None or "not done" in str(progress.render()), 60
        )
        assert modal.outcome is not None, str(progress.render())
        assert modal.outcome is not None and modal.outcome.ok
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        for collector in app.fleet.clusters:
            collector.close()
    assert cluster.node_state("node2") == "MIXED+DRAIN"
    intent, outcome = audit_records({"audit": audit.path})
    assert (intent["phase"], intent["reason"], outcome["ok"]) == ("intent", "xid 79", True)


def test_free_text_that_looks_like_keys_changes_no_job_state(
    cluster: SlurmEstate, console: dict[str, object]
) -> None:
    forged = "x Nodes=node1 CPU_IDs=0 Mem=0 GRES=gpu:4(IDX:0-3) Restarts=5 JobId=1"
    job = cluster.submit("-w", "node3", "--gres=gpu:1", "-J", forged, "--comment", forged)
    cluster.wait_until(lambda: cluster.job_field(job, "JobState") == "RUNNING", "job running")
    # A newline in a name (Slurm takes it) must not forge a record of a job that is not there.
    fake = "999999|999999|N/A|alice|RUNNING|None|main|node2|x|0:01|UNLIMITED|3|gres:gpu:4|f|"
    other = cluster.submit("-w", "node4", "-J", f"y|\n{fake}\nJobId=999999 JobName=f")
    code, stdout, stderr = aiconsole(console, "snapshot", "--json")
    assert code == 0, stderr
    jobs = {job["job_id"]: job for job in json.loads(stdout)["clusters"][0]["jobs"]}
    assert set(jobs) == {job, other}
    listed = jobs[job]
    assert (listed["name"], listed["restarts"]) == (forged, 0)
    assert listed["gpu_indices"] == {"node3": [0]}
    assert jobs[other]["name"] == f"y|\n{fake}\nJobId=999999 JobName=f"


async def test_a_latin1_byte_in_a_job_name_costs_neither_the_jobs_nor_the_link(
    cluster: SlurmEstate,
) -> None:
    job = cluster.submit("-w", "node1", "-J", b"caf\xe9")  # type: ignore[arg-type]
    cluster.wait_until(
        lambda: cluster.slurm("squeue", "-h", "-j", job, "-o", "%T").strip() == "RUNNING",
        "job running",
    )
    store = FleetStore()
    collector = SlurmCollector("estate", SshRunner("ctl", str(cluster.ssh_config)), store)
    try:
        for _ in range(2):  # the second reading used to find the connection "lost"
            state = await collector.poll_once()
            assert state.status == "ok", state.reason
            (listed,) = [j for j in state.jobs if j.job_id == job]
            assert listed.name == "caf\ufffd"
    finally:
        collector.close()
        cluster.slurm("scancel", job)


def test_array_tasks_are_requeued_one_by_one_and_a_bare_array_id_is_refused(
    cluster: SlurmEstate, console: dict[str, object]
) -> None:
    array = cluster.submit("--array=1-2", "-w", "node4", "--gres=gpu:1")
    tasks = (f"{array}_1", f"{array}_2")
    for task in tasks:
        cluster.wait_until(lambda t=task: cluster.job_field(t, "JobState") == "RUNNING", task)
    code, stdout, stderr = aiconsole(console, "requeue", array, "--yes")
    assert code == 3, stderr + stdout
    assert f"Slurm would act on every task of it ({tasks[0]} {tasks[1]})" in stdout
    code, stdout, stderr = aiconsole(console, "requeue", tasks[1], "--yes")
    assert code == 0, stderr + stdout
    assert "requeue on estate: 1 target(s)" in stdout and f"requeue {tasks[1]}" in stdout
    assert cluster.job_field(tasks[1], "Restarts") == "1"
    assert (cluster.job_field(tasks[0], "JobState"), cluster.job_field(tasks[0], "Restarts")) == (
        "RUNNING",
        "0",
    )


async def test_a_drain_sent_while_slurmctld_is_stopped_is_watched_until_it_shows(
    cluster: SlurmEstate, tmp_path: Path
) -> None:
    import asyncio

    from aiconsole.actions.audit import AuditLog
    from aiconsole.actions.policy import Policy
    from aiconsole.actions.slurm import carry_out_on_slurm, plan_action
    from aiconsole.slurm.reader import read_cluster

    cluster.slurm("scancel", "--user=root", check=False)  # no job may outlive the restart
    cluster.wait_until(
        lambda: not cluster.slurm("squeue", "-h", "-o", "%i").strip(), "queue empty", 30
    )
    cluster.wait_nodes_idle()
    runner = SshRunner("ctl", str(cluster.ssh_config))
    audit = AuditLog(tmp_path / "audit.jsonl", syslog="off")
    lines: list[str] = []
    try:
        # Planned on a fresh reading; slurmctld stops before the command goes out.
        plan = plan_action(
            await read_cluster("estate", runner, 5), "drain", ["node1"], Policy(), "x"
        )
        cluster.stop_slurmctld()
        acting = asyncio.create_task(
            carry_out_on_slurm(
                plan, runner, 2, policy=Policy(), audit=audit, progress=lines.append,
                verify_timeout=90,
            )
        )  # fmt: skip
        while not any("it may still take effect" in line for line in lines):
            assert not acting.done(), lines
            await asyncio.sleep(0.2)
        await asyncio.to_thread(cluster.start_slurmctld)
        outcome = await acting
    finally:
        runner.close()
        if "slurmctld" not in cluster.daemons:
            cluster.start_slurmctld()
    # The client on ctl kept trying and slurmctld applied the drain when it came back:
    # "failed" would have been false. The outcome is what was seen, with the missing answer.
    assert "DRAIN" in cluster.node_state("node1").split("+")
    assert outcome.status == "verified", lines
    assert outcome.unanswered == "scontrol on ctl did not answer within 2 s"
    record = list(audit.records())[-1]
    assert (record["ok"], record["status"]) == (True, "verified")
    assert record["error"] == "scontrol on ctl did not answer within 2 s"
    cluster.wait_until(
        lambda: all("UNKNOWN" not in cluster.node_state(f"node{n}") for n in range(1, 5)),
        "nodes registered again",
    )
    cluster.slurm("scontrol", "update", "NodeName=node1", "State=RESUME")
    # slurmctld was killed: it reloads its last saved state, jobs cancelled since included.
    cluster.slurm("scancel", "--user=root", check=False)
    cluster.wait_until(
        lambda: not cluster.slurm("squeue", "-h", "-o", "%i").strip(), "queue empty", 30
    )
    cluster.wait_nodes_idle()
