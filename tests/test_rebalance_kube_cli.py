"""``run_kube_rebalance``, the Kubernetes half of ``aiconsole rebalance``: this machine's
stand-in GPUs run hot, and it is a node of the test API server."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiconsole.actions.audit import AuditLog
from aiconsole.cli_rebalance_kube import run_kube_rebalance
from tests.conftest import REPO, NvmlConfig
from tests.kube_rebalance_scenario import RebalanceScenario, rebalance_scenario
from tests.kubeserver import RunningServer, serve

HOST = socket.gethostname()
Served = tuple[RebalanceScenario, RunningServer]
SCRIPT = (
    "import argparse, json, sys\n"
    "from aiconsole.cli_rebalance_kube import run_kube_rebalance\n"
    "sys.exit(run_kube_rebalance(argparse.Namespace(**json.loads(sys.argv[1]))))\n"
)


def arguments(**given: Any) -> dict[str, Any]:
    """What the command line gives the rebalance command (global options included)."""
    return {
        "command": "rebalance",
        "config": None,
        "context": ["test"],
        "context_after": None,
        "policy": "hot",
        "dry_run": False,
        "yes": False,
        "read_only": False,
        "reason": None,
        "verify_timeout": 20.0,
        "hosts": None,
        "interval": None,
        "timeout": None,
        "prometheus": None,
        "accept_new_host_keys": False,
        "slurm": None,
        "cluster": None,
        "max_out_of_service": None,
        "incident": None,
        **given,
    }


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    scenario = rebalance_scenario(hot=HOST)
    (tmp_path / "server").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("AICONSOLE_CONFIG", raising=False)
    with serve(tmp_path / "server", scenario.state) as running:
        monkeypatch.setenv("KUBECONFIG", str(running.kubeconfig))
        yield scenario, running


def run(gpu_env: dict[str, str], nvml_config: NvmlConfig, **given: Any) -> tuple[int, str, str]:
    """In a child process: the stand-in NVML shows this machine's 8 GPUs at 92 C."""
    nvml_config.set(device_count=8)
    for index in range(8):
        nvml_config.gpu(index, temperature=92)
    env = {**gpu_env, **{k: os.environ[k] for k in ("HOME", "XDG_STATE_HOME", "KUBECONFIG")}}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(arguments(**given))],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def untouched(scenario: RebalanceScenario) -> None:
    assert scenario.state.evicted == []
    assert not scenario.state.get("nodes", "", HOST)["spec"].get("unschedulable")


def test_dry_run_shows_the_plan_and_changes_nothing(
    served: Served, gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    scenario, _ = served
    code, stdout, stderr = run(gpu_env, nvml_config, dry_run=True)
    assert code == 0, stdout + stderr
    assert f"evict from {HOST}" in stdout and "ml/batch-pod" in stdout
    assert f"{HOST}: GPU at 92 C" in stdout
    assert "PodDisruptionBudget ml/serve allows 0" in stdout
    assert "ml/train-pod on " in stdout and "over the cap" in stdout  # one move per node
    assert "dry run: nothing was done" in stdout
    untouched(scenario)


def test_confirmed_it_evicts_and_verifies_and_audits(
    served: Served, gpu_env: dict[str, str], nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    scenario, _ = served
    code, stdout, stderr = run(gpu_env, nvml_config, yes=True)
    assert code == 0, stdout + stderr
    assert scenario.state.evicted == [("ml", "batch-pod")]
    assert scenario.state.get("nodes", "", HOST)["spec"].get("unschedulable") is True
    assert "ml/batch-pod: recreated as batch-" in stdout and "(ok)" in stdout
    records = list(AuditLog(tmp_path / "state" / "aiconsole" / "audit.jsonl").records())
    assert [(r["phase"], r["action"]) for r in records] == [
        ("intent", "rebalance-hot"),
        ("outcome", "rebalance-hot"),
    ]


def test_defrag_is_slurm_only(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_kube_rebalance(argparse.Namespace(**arguments(policy="defrag"))) == 64
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "defrag requeues Slurm jobs" in error
    untouched(served[0])


def test_read_only_and_viewer_are_refused(
    served: Served, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run_kube_rebalance(argparse.Namespace(**arguments(read_only=True, yes=True))) == 3
    assert "refused: read-only" in capsys.readouterr().err
    viewer = tmp_path / "viewer.toml"
    viewer.write_text('[settings]\nrole = "viewer"\n')
    assert run_kube_rebalance(argparse.Namespace(**arguments(config=str(viewer), yes=True))) == 3
    assert "role 'viewer' cannot act" in capsys.readouterr().err
    untouched(served[0])


def test_the_command_line_only_shows_without_yes(
    served: Served, gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    """`aiconsole rebalance --context C` without --yes or --execute shows, as on Slurm."""
    scenario, _ = served
    nvml_config.set(device_count=8)
    for index in range(8):
        nvml_config.gpu(index, temperature=92)
    env = {**gpu_env, **{k: os.environ[k] for k in ("HOME", "XDG_STATE_HOME", "KUBECONFIG")}}
    command = [sys.executable, "-m", "aiconsole", "rebalance", "--policy", "hot"]
    done = subprocess.run(
        [*command, "--context", "test"], env=env, cwd=REPO, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dry run: nothing was done" in done.stdout
    untouched(scenario)
    wrong = subprocess.run(
        [*command, "--idle-action", "evict"], env=env, cwd=REPO, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert wrong.returncode != 0 and "--idle-action evict is for Kubernetes" in wrong.stderr
