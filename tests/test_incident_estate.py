"""The loop from fault to resume, on real parts: a real slurmd job holds GPUs 0 and 1 of
node2 (a real sshd host), whose probe sees stand-in NVML GPUs; an XID 79 on GPU 1 becomes a
critical finding naming the job and its user in `health --json`, in the TUI and in a real
Alertmanager; from the finding on the health screen the operator drains (reason filled in),
diagnoses with `x` (over SSH; a stand-in `dcgmi` prints a recorded passing document) and
confirms the resume that follows the pass; `audit --incident` tells it in order.

The join here is Slurm's own: `scontrol show job -d` says the job holds node2's GPUs 0-1.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alertmanager import alertmanager, alerts
from tests.alertmanager import available as alertmanager_available
from tests.conftest import FIXTURES, NvmlConfig, run_aiconsole
from tests.estate import available, required
from tests.slurm_estate import SlurmEstate, slurm_available

pytestmark = required(available() or slurm_available() or alertmanager_available())

FAKE_DCGMI = Path(__file__).parent / "fakedcgmi" / "dcgmi"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmEstate]:
    with SlurmEstate(tmp_path_factory.mktemp("incident"), nodes=2) as estate:
        yield estate


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def kernel_log(tmp_path: Path) -> Path:
    """The host's kernel log with an XID 79 on GPU 1 (bus 19) a minute ago, as /dev/kmsg
    has it: the console started after the fault reads it from there, as any would."""
    boot = next(
        int(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime ")
    )
    since_boot_us = int((time.time() - 60 - boot) * 1e6)
    log = tmp_path / "kmsg"
    log.write_text(
        f"4,1203,{since_boot_us},-;NVRM: Xid (PCI:0000:19:00): 79, "
        "pid='<unknown>', name=<unknown>, GPU has fallen off the bus.\n"
    )
    return log


def write_config(
    tmp_path: Path, cluster: SlurmEstate, fake_nvml_dir: Path, nvml: NvmlConfig, alerts_url: str
) -> Path:
    # Over SSH the environment does not travel: wrappers carry it to the host's processes.
    python = executable(
        tmp_path / "python-with-gpus",
        (
            "#!/bin/sh\n"
            f"export LD_LIBRARY_PATH={fake_nvml_dir} FAKE_NVML_CONFIG={nvml.path}\n"
            f'exec {sys.executable} "$@" --kernel-log {kernel_log(tmp_path)}\n'
        ),
    )
    dcgmi = executable(
        tmp_path / "dcgmi",
        (
            "#!/bin/sh\n"
            f"export FAKE_DCGMI_OUTPUT={FIXTURES / 'dcgmi' / 'r1-pass.json'}\n"
            f'exec {sys.executable} {FAKE_DCGMI} "$@"\n'
        ),
    )
    config = tmp_path / "config.toml"
    config.write_text(
        'hosts = "node2"\n'
        "[settings]\n"
        f'ssh_config = "{cluster.ssh_config}"\n'
        f'python = "{python}"\n'
        f'audit_log = "{tmp_path / "audit.jsonl"}"\n'
        "max_out_of_service = 0.5\n"  # two nodes: draining one is half the partition
        "interval = 0.5\n"
        '[clusters]\nestate = "ctl"\n'
        f'[health]\ndiagnose = "{dcgmi} diag -r 1 -j"\n'
        f'[alerts]\nalertmanager = "{alerts_url}"\n'
    )
    return config


async def test_from_xid_to_resume_one_incident(
    cluster: SlurmEstate, fake_nvml_dir: Path, nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    from textual.widgets import DataTable, Input

    from aiconsole.app import ConsoleApp
    from aiconsole.cli import build_fleet, build_parser, load_inventory
    from aiconsole.cli_actions import audit_log, policy_from
    from aiconsole.screens.health import HealthScreen
    from aiconsole.screens.plan import PlanScreen, ReasonScreen
    from tests.test_screens import wait_for

    nvml_config.set(device_count=2).gpu(0).gpu(1)
    job = cluster.submit("-w", "node2", "--gres=gpu:2", "-J", "train")
    cluster.wait_until(lambda: cluster.job_field(job, "JobState") == "RUNNING", "job running")
    env = dict(os.environ)
    with alertmanager(tmp_path / "am") as url:
        config = write_config(tmp_path, cluster, fake_nvml_dir, nvml_config, url)

        # 1. Scripts: health --json says critical, names the host, GPU, job and user.
        code, stdout, stderr = run_aiconsole(
            "--config", str(config), "health", "--json", env=env, timeout=120
        )
        assert code == 2, stderr
        report = json.loads(stdout)
        xid = next(f for f in report["findings"] if f["rule"] == "gpu.xid_critical")
        assert xid["subject"]["host"] == "node2"
        assert xid["summary"] == f"XID 79 (GPU has fallen off the bus) on GPU 1 (job {job} root)"
        assert [(w["id"], w["user"], w["name"]) for w in xid["workloads"]] == [
            (job, "root", "train")
        ]
        incident = xid["incident"]

        # 2. The live console: the finding on the health screen, the alert in Alertmanager,
        # the drain from the finding with its reason filled in.
        args = build_parser().parse_args(["--config", str(config)])
        inventory = load_inventory(args)
        fleet = build_fleet(args, inventory)
        app = ConsoleApp(
            fleet,
            refresh_interval=0.5,
            policy=policy_from(args, inventory),
            audit=audit_log(inventory),
        )
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(app.screen, HealthScreen))
            table = app.screen.query_one("#health-table", DataTable)

            def xid_row() -> int | None:
                for n in range(table.row_count):
                    if "XID 79" in str(table.get_row_at(n)[3]):
                        return n
                return None

            await wait_for(pilot, lambda: xid_row() is not None, 60)
            await wait_for(pilot, lambda: app.fleet.store.cluster("estate") is not None, 30)
            await wait_for(
                pilot,
                lambda: any(a["labels"]["alertname"] == "gpu.xid_critical" for a in alerts(url)),
                30,
            )  # type: ignore[index]
            table.move_cursor(row=xid_row())
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ReasonScreen))
            reason = app.screen.query_one("#reason-input", Input).value
            assert reason == f"xid 79 on GPU 1 (job {job} root)"
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen))
            modal = app.screen
            assert isinstance(modal, PlanScreen) and modal.plan.incident == incident
            await pilot.press("y")
            await wait_for(pilot, lambda: modal.outcome is not None, 60)
            assert modal.outcome is not None and modal.outcome.ok
            assert "DRAIN" in cluster.node_state("node2")

            # 3. From the same finding: diagnose the host (over SSH, the stand-in dcgmi prints
            # a passing document); on the pass, the resume plan follows.
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, HealthScreen))
            table.move_cursor(row=xid_row())
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen))
            diagnosis = app.screen
            assert isinstance(diagnosis, PlanScreen) and diagnosis.plan.action == "diagnose"
            await pilot.press("y")
            await wait_for(pilot, lambda: diagnosis.outcome is not None, 60)
            assert diagnosis.outcome is not None and diagnosis.outcome.ok
            await pilot.press("escape")
            await wait_for(
                pilot, lambda: isinstance(app.screen, PlanScreen) and app.screen is not diagnosis
            )
            resume = app.screen
            assert isinstance(resume, PlanScreen) and resume.plan.action == "resume"
            assert resume.plan.incident == incident
            await pilot.press("y")
            await wait_for(pilot, lambda: resume.outcome is not None, 60)
            assert resume.outcome is not None and resume.outcome.ok
            fleet.close()
        assert "DRAIN" not in cluster.node_state("node2")

    code, _, _ = run_aiconsole(
        "--config", str(config), "ack", incident, "--note", "RMA filed", env=env
    )
    assert code == 0

    # 4. The story, in order.
    code, stdout, _ = run_aiconsole(
        "--config", str(config), "audit", "--incident", incident, env=env
    )
    story = [line.split()[3:5] for line in stdout.splitlines()]
    assert story == [
        ["event", "finding"],
        ["intent", "drain"],
        ["outcome", "drain"],
        ["intent", "diagnose"],
        ["outcome", "diagnose"],
        ["intent", "resume"],
        ["outcome", "resume"],
        ["event", "ack"],
    ], stdout
    cluster.slurm("scancel", job, check=False)
