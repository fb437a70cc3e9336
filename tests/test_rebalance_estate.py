"""Rebalancing a real Slurm cluster (slurmctld + 4 slurmd of 4 GPUs on the estate), over SSH
to the controller as an operator's console would: a defragmentation that lets a blocked
4-GPU job start, checked with Slurm's own squeue/scontrol; and idle reclaim, with the
stand-in NVML holding a job's GPU at 0 %.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NvmlConfig, run_aiconsole
from tests.estate import available, required
from tests.slurm_estate import SlurmEstate, slurm_available

pytestmark = required(available() or slurm_available())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmEstate]:
    with SlurmEstate(tmp_path_factory.mktemp("rebalance"), nodes=4) as estate:
        yield estate


@pytest.fixture
def config(cluster: SlurmEstate, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[settings]\nssh_config = "{cluster.ssh_config}"\n'
        f'audit_log = "{tmp_path / "audit.jsonl"}"\ninterval = 0.5\n'
        '[clusters]\nestate = "ctl"\n'
    )
    yield path
    cluster.slurm("scancel", "--user=root", check=False)
    cluster.slurm("scontrol", "update", "NodeName=node[1-4]", "State=RESUME", check=False)
    cluster.wait_until(
        lambda: not cluster.slurm("squeue", "-h", "-o", "%i").strip(), "queue empty", 30
    )


def aiconsole(config: Path, *args: str, timeout: float = 120) -> tuple[int, str, str]:
    return run_aiconsole("--config", str(config), *args, env=dict(os.environ), timeout=timeout)


def squeue(cluster: SlurmEstate) -> dict[str, tuple[str, str]]:
    """Job id -> (state, nodes) as Slurm itself lists them."""
    text = cluster.slurm("squeue", "-h", "-o", "%i %T %N")
    return {f[0]: (f[1], f[2] if len(f) > 2 else "") for f in map(str.split, text.splitlines())}


def submit_on(cluster: SlurmEstate, node: str, *options: str) -> str:
    """A job that starts on ``node`` with nothing pinning it there (no ``-w``): submitted
    while every other node is drained (Slurm would otherwise pack jobs onto the first)."""
    names = [host.name for host in cluster.nodes]
    others = [n for n in names if n != node]
    cluster.slurm("scontrol", "update", f"NodeName={','.join(others)}", "State=DRAIN",
                  "Reason=placing")  # fmt: skip
    cluster.slurm("scontrol", "update", f"NodeName={node}", "State=RESUME", check=False)
    job = cluster.submit(*options)
    cluster.wait_until(lambda: squeue(cluster).get(job, ("",))[0] == "RUNNING", f"{job} runs")
    cluster.slurm("scontrol", "update", f"NodeName={','.join(others)}", "State=RESUME")
    assert squeue(cluster)[job][1] == node
    return job


def spread_one_per_node(cluster: SlurmEstate) -> dict[str, str]:
    """Four requeueable 1-GPU jobs, one per node."""
    return {
        submit_on(cluster, node.name, "--gres=gpu:1", "-J", f"small-{node.name}"): node.name
        for node in cluster.nodes
    }


def test_defrag_requeues_the_fewest_jobs_and_the_4_gpu_job_starts(
    cluster: SlurmEstate, config: Path
) -> None:
    placed = spread_one_per_node(cluster)
    assert sorted(placed.values()) == ["node1", "node2", "node3", "node4"]
    big = cluster.submit("--gres=gpu:4", "-N1", "-J", "big")
    cluster.wait_until(lambda: cluster.job_field(big, "Reason") == "Resources", "big blocked")

    # The reading has what planning needs: priority, Requeue flag, nodes asked for.
    code, stdout, stderr = aiconsole(config, "snapshot", "--json")
    assert code == 0, stderr
    (estate,) = json.loads(stdout)["clusters"]
    jobs = {job["job_id"]: job for job in estate["jobs"]}
    assert all(jobs[job]["requeueable"] is True for job in placed)
    assert all(jobs[job]["priority"] > 0 for job in placed)
    assert (jobs[big]["state"], jobs[big]["nodes_requested"]) == ("PENDING", 1)

    # Shown, not done, by default.
    code, stdout, stderr = aiconsole(config, "rebalance", "--policy", "defrag")
    assert code == 0, stderr
    assert "dry run: nothing was done" in stdout
    assert squeue(cluster)[big][0] == "PENDING"

    code, stdout, stderr = aiconsole(config, "rebalance", "--policy", "defrag", "--yes")
    assert code == 0, stdout + stderr
    (requeued,) = [job for job in placed if f"  {job} (RUNNING)" in stdout]
    assert f"command: scontrol requeue {requeued}" in stdout
    # squeue says it: the 4-GPU job runs on the node the requeued job left.
    state, nodes = squeue(cluster)[big]
    assert (state, nodes) == ("RUNNING", placed[requeued])
    assert cluster.job_field(requeued, "Restarts") == "1"
    # The requeued job runs again. Slurm holds a requeued job back about two minutes; the
    # test moves its start forward rather than wait (the plan's part ends at the requeue).
    cluster.slurm("scontrol", "update", f"JobId={requeued}", "StartTime=now")
    cluster.wait_until(
        lambda: squeue(cluster).get(requeued, ("",))[0] == "RUNNING", "requeued job runs", 200
    )
    assert squeue(cluster)[requeued][1] != placed[requeued]
    others = [job for job in placed if job != requeued]
    assert all(squeue(cluster)[job] == ("RUNNING", placed[job]) for job in others)

    records = [
        json.loads(line) for line in (config.parent / "audit.jsonl").read_text().splitlines()
    ]
    intent, outcome = records
    assert (intent["action"], intent["phase"], outcome["phase"]) == (
        "rebalance-defrag", "intent", "outcome"
    )  # fmt: skip
    assert intent["plan"]["command"] == ["scontrol", "requeue", requeued]
    assert any(line.startswith(placed[requeued]) for line in intent["plan"]["details"])
    assert outcome["ok"] is True
    assert {r["target"] for r in outcome["results"]} == {requeued, big}


def test_a_job_submitted_with_no_requeue_is_never_moved(cluster: SlurmEstate, config: Path) -> None:
    job = cluster.submit("--gres=gpu:3", "--no-requeue", "-w", "node1", "-J", "pinned")
    cluster.wait_until(lambda: squeue(cluster).get(job, ("",))[0] == "RUNNING", "job running")
    for node in ("node2", "node3", "node4"):
        cluster.submit("--gres=gpu:3", "--no-requeue", "-w", node)
    big = cluster.submit("--gres=gpu:2", "-N1", "-J", "big")
    cluster.wait_until(lambda: cluster.job_field(big, "Reason") == "Resources", "big blocked")
    code, stdout, stderr = aiconsole(config, "snapshot", "--json")
    (estate,) = json.loads(stdout)["clusters"]
    (listed,) = [j for j in estate["jobs"] if j["job_id"] == job]
    assert listed["requeueable"] is False
    code, stdout, stderr = aiconsole(config, "rebalance", "--policy", "defrag", "--yes")
    assert code == 0, stderr
    assert f"not moved: {big}: no 1 node(s) can be freed for it" in stdout
    assert "nothing to carry out" in stdout
    assert squeue(cluster)[job][0] == "RUNNING"
    assert not (config.parent / "audit.jsonl").exists()


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def watch_node2(config: Path, fake_nvml_dir: Path, nvml_config: NvmlConfig, tmp_path: Path) -> None:
    """The config also watches host node2 (Slurm's node2), whose probe sees stand-in GPUs."""
    kmsg = tmp_path / "kmsg"
    kmsg.write_text("")
    # Over SSH the environment does not travel: a wrapper carries it to the probe.
    python = executable(
        tmp_path / "python-with-gpus",
        "#!/bin/sh\n"
        f"export LD_LIBRARY_PATH={fake_nvml_dir} FAKE_NVML_CONFIG={nvml_config.path}\n"
        f'exec {sys.executable} "$@" --kernel-log {kmsg}\n',
    )
    config.write_text(
        config.read_text().replace(
            "[settings]\n", f'hosts = "node2"\n[settings]\npython = "{python}"\n'
        )
    )


def test_idle_reclaim_lists_the_idle_job_with_its_owner_and_wasted_gpu_hours(
    cluster: SlurmEstate,
    config: Path,
    fake_nvml_dir: Path,
    nvml_config: NvmlConfig,
    tmp_path: Path,
) -> None:
    # node2's GPU 0 sits at 0 %, GPU 1 works at 90 %.
    nvml_config.set(device_count=2).gpu(0, util_gpu=0).gpu(1, util_gpu=90)
    idle = cluster.submit("-w", "node2", "--gres=gpu:1", "-J", "idle")
    cluster.wait_until(lambda: squeue(cluster).get(idle, ("",))[0] == "RUNNING", "idle runs")
    busy = cluster.submit("-w", "node2", "--gres=gpu:1", "-J", "busy")
    cluster.wait_until(lambda: squeue(cluster).get(busy, ("",))[0] == "RUNNING", "busy runs")
    assert cluster.job_field(idle, "JobName") == "idle"
    watch_node2(config, fake_nvml_dir, nvml_config, tmp_path)
    code, stdout, stderr = aiconsole(
        config, "rebalance", "--policy", "idle", "--idle-minutes", "0.05", "--watch", "6"
    )
    assert code == 0, stdout + stderr
    assert f"  {idle} (RUNNING)" in stdout
    assert f"job {idle} (root, idle), 1 GPU(s) on node2" in stdout
    assert "notify root: nothing is done to the job" in stdout
    assert f"{busy} (RUNNING)" not in stdout
    wasted = next(line for line in stdout.splitlines() if "GPU-hours wasted so far" in line)
    assert 0 < float(wasted.split()[-1]) < 1  # one GPU, idle for seconds
    assert "nothing to carry out" in stdout
    assert squeue(cluster)[idle][0] == "RUNNING"


def test_hot_node_work_is_requeued_and_kept_off_the_hot_node(
    cluster: SlurmEstate,
    config: Path,
    fake_nvml_dir: Path,
    nvml_config: NvmlConfig,
    tmp_path: Path,
) -> None:
    # node2's GPU 0 runs at 91 C.
    nvml_config.set(device_count=2).gpu(0, util_gpu=80, temperature=91).gpu(
        1, util_gpu=0, temperature=40
    )
    job = submit_on(cluster, "node2", "--gres=gpu:1", "-J", "warm")
    watch_node2(config, fake_nvml_dir, nvml_config, tmp_path)
    code, stdout, stderr = aiconsole(
        config, "rebalance", "--policy", "hot", "--watch", "3", "--yes"
    )
    assert code == 0, stdout + stderr
    assert "why: node2: GPU at 91 C" in stdout
    assert f"then: scontrol update JobId={job} ExcNodeList=node2" in stdout
    # Slurm's own word: requeued once, and excluded from node2 while it waits.
    assert cluster.job_field(job, "Restarts") == "1"
    assert cluster.job_field(job, "ExcNodeList") == "node2"
    # Let it start now rather than after Slurm's two-minute hold: it runs elsewhere.
    cluster.slurm("scontrol", "update", f"JobId={job}", "StartTime=now")
    cluster.wait_until(lambda: squeue(cluster).get(job, ("",))[0] == "RUNNING", "runs again")
    assert squeue(cluster)[job][1] != "node2"
    records = [
        json.loads(line) for line in (config.parent / "audit.jsonl").read_text().splitlines()
    ]
    assert [r["action"] for r in records] == ["rebalance-hot", "rebalance-hot"]
    assert records[0]["plan"]["then"] == [
        ["scontrol", "update", f"JobId={job}", "ExcNodeList=node2"]
    ]
    assert records[1]["ok"] is True
