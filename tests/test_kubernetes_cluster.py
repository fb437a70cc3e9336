"""Kubernetes end to end against the test API server (and real kubectl as the reference)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from aiconsole.actions.audit import AuditLog
from aiconsole.cli import main
from aiconsole.model import json_schema
from tests.conftest import run_aiconsole
from tests.kubeserver import DrainScenario, KubeState, RunningServer, drain_scenario, serve

Cluster = tuple[DrainScenario, RunningServer]


def served(directory: Path, state: KubeState) -> Iterator[RunningServer]:
    directory.mkdir(parents=True, exist_ok=True)
    with serve(directory, state) as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A user whose only configuration is a kubeconfig; the audit log lives under tmp_path."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("AICONSOLE_CONFIG", raising=False)
    return dict(os.environ)


@pytest.fixture
def cluster(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cluster]:
    scenario = drain_scenario()
    for running in served(tmp_path / "server", scenario.state):
        monkeypatch.setenv("KUBECONFIG", str(running.kubeconfig))
        env["KUBECONFIG"] = str(running.kubeconfig)
        yield scenario, running


def audit(tmp_path: Path) -> list[dict[str, object]]:
    return list(AuditLog(tmp_path / "state" / "aiconsole" / "audit.jsonl").records())


def test_snapshot_json_shows_nodes_gpus_and_pods_with_context_before_or_after(
    cluster: Cluster, env: dict[str, str]
) -> None:
    schema = json_schema()
    for args in (
        ("--context", "test", "snapshot", "--json", "--window", "0"),
        ("snapshot", "--json", "--window", "0", "--context", "test"),
    ):
        code, stdout, stderr = run_aiconsole(*args, env=env)
        assert code == 0, stderr
        document = json.loads(stdout)
        assert list(Draft202012Validator(schema).iter_errors(document)) == []
        (kube,) = document["kubernetes"]
        assert (kube["name"], kube["status"]) == ("test", "ok")
        nodes = {node["name"]: node for node in kube["nodes"]}
        assert sorted(nodes) == ["n1", "n2", "n3", "n4"]
        assert nodes["n2"]["gpu_allocatable"] == {"nvidia.com/gpu": 8}
        assert nodes["n2"]["gpu_requested"] == {"nvidia.com/gpu": 5}  # train 4 + serve 1
        assert nodes["n2"]["gpu_product"] == "NVIDIA-H100-80GB-HBM3"
        pods = {(p["namespace"], p["name"]): p for p in kube["pods"]}
        train = pods[("ml", "train-42-hx7kq")]
        assert (train["node"], train["owner_kind"], train["gpus"]) == (
            "n2",
            "Job",
            {"nvidia.com/gpu": 4},
        )
        assert pods[("kube-system", "kube-proxy-n2")]["mirror"] is True


def test_snapshot_text_and_a_dead_context_reported_not_fatal(
    cluster: Cluster, env: dict[str, str], tmp_path: Path
) -> None:
    _, running = cluster
    # A second kubeconfig file in $KUBECONFIG (as kubectl merges them) with a context whose
    # API server refuses connections: that cluster has its own error, the exit code is 2.
    dead = json.loads(running.kubeconfig.read_text())
    dead["clusters"] = [{"name": "dead", "cluster": {"server": "http://127.0.0.1:9"}}]
    dead["users"] = [{"name": "dead", "user": {"token": "x"}}]
    dead["contexts"] = [{"name": "dead", "context": {"cluster": "dead", "user": "dead"}}]
    second = tmp_path / "second-kubeconfig"
    second.write_text(json.dumps(dead))
    env["KUBECONFIG"] = f"{running.kubeconfig}{os.pathsep}{second}"
    code, stdout, stderr = run_aiconsole("snapshot", "--window", "0", "--context", "all", env=env)
    assert code == 2, stderr
    assert "Kubernetes test: ok, 4 nodes, 12 pods" in stdout
    assert "Kubernetes dead: error (context dead: API server http://127.0.0.1:9 not reachable" in (
        stdout
    )
    assert "Traceback" not in stderr


def test_drain_cordons_evicts_skips_and_waits_out_the_pdb(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acceptance case: DaemonSet, mirror, Job and a Deployment pod behind a PDB that
    allows no disruption, on n2 of four GPU nodes."""
    scenario = drain_scenario(KubeState(controller=False))
    for namespace, name in (("ml", "cache-5c8d7e9f1-qrstu"), ("default", "debug-shell")):
        scenario.state.delete("pods", namespace, name)
    scenario.allow_after_refusals(refusals=2)
    for running in served(tmp_path / "server", scenario.state):
        env["KUBECONFIG"] = str(running.kubeconfig)
        code, stdout, stderr = run_aiconsole("drain", "n2", "--context", "test", "--yes", env=env)
        assert code == 0, stdout + stderr
        state = scenario.state
        assert state.get("nodes", "", "n2")["spec"]["unschedulable"] is True
        assert set(state.evicted) == {("ml", "train-42-hx7kq"), ("ml", "serve-7d4b9c6f5-abcde")}
        assert len(state.eviction_refusals) == 2  # the PDB held it twice, then let it go
        on_n2 = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in state.pods_on("n2")}
        assert on_n2 == scenario.kept
        assert "skip gpu-operator/nvidia-device-plugin-1x1z" in stdout
        assert "skip kube-system/kube-proxy-n2" in stdout
        assert "PodDisruptionBudget ml/serve allows 0 disruptions now" in stdout  # the plan
        blocked = [line for line in stdout.splitlines() if "blocked by" in line]
        assert len(blocked) == 2
        assert "PodDisruptionBudget ml/serve (disruptions allowed now: 0)" in blocked[0]
        assert "ml/serve-7d4b9c6f5-abcde: gone (ok)" in stdout
    intent, outcome = audit(tmp_path)
    assert (intent["phase"], outcome["phase"]) == ("intent", "outcome")
    targets = intent["targets"]
    assert isinstance(targets, list) and targets[0] == "n2"
    assert set(targets[1:]) == {"ml/train-42-hx7kq", "ml/serve-7d4b9c6f5-abcde"}
    assert outcome["ok"] is True
    assert {r["target"]: r["state"] for r in outcome["results"]} == {  # type: ignore[attr-defined]
        "n2": "Ready,SchedulingDisabled",
        "ml/train-42-hx7kq": "gone",
        "ml/serve-7d4b9c6f5-abcde": "gone",
    }


def test_drain_evicts_the_same_pods_as_kubectl_drain(tmp_path: Path, env: dict[str, str]) -> None:
    from tests.kubeserver import find_kubectl, kubectl

    assert find_kubectl(), "kubectl is part of the test set-up"
    evicted = {}
    for who in ("aiconsole", "kubectl"):
        scenario = drain_scenario(KubeState(controller=False))
        scenario.allow_after_refusals(refusals=1)
        for running in served(tmp_path / who, scenario.state):
            if who == "aiconsole":
                env["KUBECONFIG"] = str(running.kubeconfig)
                code, out, err = run_aiconsole(
                    "drain", "n2", "--context", "test", "--yes", "--force",
                    "--delete-emptydir-data", env=env,
                )  # fmt: skip
                assert code == 0, out + err
            else:
                result = kubectl(
                    running.kubeconfig, "drain", "n2", "--ignore-daemonsets", "--force",
                    "--delete-emptydir-data", "--timeout=60s",
                )  # fmt: skip
                assert result.returncode == 0, result.stdout + result.stderr
            evicted[who] = set(scenario.state.evicted)
            assert scenario.state.get("nodes", "", "n2")["spec"]["unschedulable"] is True
    assert evicted["aiconsole"] == evicted["kubectl"] == scenario.evictable


def test_drain_refuses_unmanaged_and_emptydir_pods_and_says_which_flag(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, _ = cluster
    assert main(["drain", "n2", "--context", "test", "--yes"]) == 3
    out = capsys.readouterr().out
    assert "REFUSED: default/debug-shell on n2: declares no controller" in out
    assert "(--force allows it)" in out and "(--delete-emptydir-data allows it)" in out
    assert scenario.state.evicted == []
    assert scenario.state.get("nodes", "", "n2")["spec"].get("unschedulable") is not True
    assert audit(tmp_path) == []  # refused before anything ran: nothing to audit


def test_blast_radius_and_its_per_command_override(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, _ = cluster
    assert main(["cordon", "n1,n3", "--context", "test", "--yes"]) == 3
    assert "would leave 2 of 4 GPU nodes of test out of service" in capsys.readouterr().out
    nodes = [scenario.state.get("nodes", "", n)["spec"] for n in ("n1", "n3")]
    assert all(spec.get("unschedulable") is not True for spec in nodes)
    assert (
        main(["cordon", "n1,n3", "--context", "test", "--yes", "--max-out-of-service", "0.5"]) == 0
    )
    assert all(scenario.state.get("nodes", "", n)["spec"]["unschedulable"] for n in ("n1", "n3"))


def test_cordon_reason_lands_on_the_node_and_uncordon_clears_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    scenario, _ = cluster
    assert main(["cordon", "n4", "--context", "test", "--yes", "--reason", "XID 79 on GPU 3"]) == 0
    node = scenario.state.get("nodes", "", "n4")
    assert node["spec"]["unschedulable"] is True
    assert node["metadata"]["annotations"]["aiconsole/reason"] == "XID 79 on GPU 3"
    assert main(["uncordon", "n4", "--context", "test", "--yes"]) == 0
    node = scenario.state.get("nodes", "", "n4")
    assert not node["spec"].get("unschedulable")
    assert "aiconsole/reason" not in node["metadata"]["annotations"]
    phases = [(r["action"], r["phase"], r.get("ok")) for r in audit(tmp_path)]
    assert phases == [
        ("cordon", "intent", None),
        ("cordon", "outcome", True),
        ("uncordon", "intent", None),
        ("uncordon", "outcome", True),
    ]
    assert audit(tmp_path)[0]["reason"] == "XID 79 on GPU 3"


def test_restart_recreates_through_the_owner_and_refuses_bare_pods(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, _ = cluster
    assert main(["restart", "train-42-hx7kq", "-n", "ml", "--context", "test", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "ml/train-42-hx7kq: replaced by ml/train-42-" in out
    jobs = [
        p
        for p in scenario.state.list("pods", "ml")[0]
        if p["metadata"]["name"].startswith("train-42-")
    ]
    assert len(jobs) == 1 and jobs[0]["metadata"]["name"] != "train-42-hx7kq"
    assert main(["restart", "default/debug-shell", "--context", "test", "--yes"]) == 3
    assert "default/debug-shell is a bare pod" in capsys.readouterr().out
    scenario.state.get("pods", "default", "debug-shell")  # still there


def test_viewer_and_read_only_cannot_act(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, _ = cluster
    assert main(["--read-only", "cordon", "n1", "--context", "test", "--yes"]) == 3
    assert "read-only" in capsys.readouterr().err
    config = tmp_path / "viewer.toml"
    config.write_text('[settings]\nrole = "viewer"\n[kubernetes]\ncontexts = ["test"]\n')
    assert main(["--config", str(config), "drain", "n2", "--yes", "--force"]) == 3
    assert "role 'viewer' cannot act" in capsys.readouterr().err
    assert scenario.state.evicted == []
    assert not scenario.state.get("nodes", "", "n1")["spec"].get("unschedulable")


def test_drain_picks_slurm_or_kubernetes_and_refuses_to_guess(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "both.toml"
    config.write_text('[clusters]\nhpc = "local"\n[kubernetes]\ncontexts = ["test"]\n')
    assert main(["--config", str(config), "drain", "n1", "--reason", "x", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "both Slurm clusters and Kubernetes contexts are configured" in err
    assert "--context" in err and "--slurm/--cluster" in err
    assert main(["drain", "n1", "--context", "test", "--slurm", "local", "--dry-run"]) == 1
    assert "not both" in capsys.readouterr().err
    assert main(["resume", "n1", "--context", "test", "--dry-run"]) == 1
    assert "resume acts on Slurm" in capsys.readouterr().err
    # Bad names are refused before any contact (no server is running here).
    assert main(["cordon", "Gpu1", "--context", "test", "--yes"]) == 1
    assert "invalid node name" in capsys.readouterr().err
    assert main(["drain", "n1", "--context", "test", "--timeout", "-1"]) == 1
    assert "--timeout must be >= 0" in capsys.readouterr().err


def test_a_slurm_only_or_host_only_run_never_imports_kubernetes(
    cluster: Cluster, env: dict[str, str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    script = (
        "import sys\n"
        "from aiconsole.cli import main\n"
        "main(sys.argv[1:])\n"
        "found = sorted(m for m in sys.modules if m.split('.')[0] == 'kubernetes')\n"
        "print(found, file=sys.stderr)\n"
    )
    quiet = {**env, "PATH": str(empty)}  # no sinfo: the Slurm cluster fails fast, as it may
    runs = {
        "slurm": ["--slurm", "local", "snapshot", "--json", "--window", "0"],
        "hosts": ["snapshot", "--json", "--window", "0"],
        "slurm action": ["drain", "n1", "--slurm", "local", "--reason", "x", "--dry-run"],
        "kubernetes": ["--context", "test", "snapshot", "--json", "--window", "0"],
    }
    loaded = {}
    for name, args in runs.items():
        result = subprocess.run(
            [sys.executable, "-c", script, *args], env=quiet, capture_output=True, text=True
        )
        loaded[name] = result.stderr.strip().splitlines()[-1]
    assert loaded["slurm"] == loaded["hosts"] == loaded["slurm action"] == "[]"
    assert "kubernetes.aio" in loaded["kubernetes"]  # the check can see an import


def test_a_blocked_pod_that_moved_to_another_node_is_not_retried(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, _ = cluster
    state = scenario.state
    moved = threading.Event()

    def move_after_first_refusal() -> None:
        while not state.eviction_refusals and not moved.is_set():
            time.sleep(0.01)
        # Its node was recreated elsewhere meanwhile (same pod, another node).
        state.patch(
            "pods",
            "ml",
            "serve-7d4b9c6f5-abcde",
            "application/merge-patch+json",
            {"spec": {"nodeName": "n3"}},
        )
        moved.set()

    mover = threading.Thread(target=move_after_first_refusal, daemon=True)
    mover.start()
    args = ["drain", "n2", "--context", "test", "--yes", "--force", "--delete-emptydir-data"]
    try:
        assert main([*args, "--timeout", "30"]) == 0
    finally:
        moved.set()
        mover.join(5)
    out = capsys.readouterr().out
    # Seen while retrying (progress), not merely found moved at the timeout.
    assert "\n  ml/serve-7d4b9c6f5-abcde: moved to n3\n" in out
    assert "still blocked at the timeout" not in out
    assert "ml/serve-7d4b9c6f5-abcde: moved to n3 (ok)" in out
    assert ("ml", "serve-7d4b9c6f5-abcde") not in state.evicted


def test_dry_run_plans_only_and_drain_waits_for_terminating_pods(
    tmp_path: Path,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Deleted pods stay Terminating for a while, as with a real kubelet's grace period.
    scenario = drain_scenario(KubeState(controller=False, deletion_delay=1.0))
    scenario.allow_disruptions(1)
    args = ["drain", "n2", "--context", "test", "--force", "--delete-emptydir-data"]
    for running in served(tmp_path / "server", scenario.state):
        monkeypatch.setenv("KUBECONFIG", str(running.kubeconfig))
        assert main([*args, "--dry-run"]) == 0
        assert "dry run: nothing was done" in capsys.readouterr().out
        assert scenario.state.evicted == []
        assert not scenario.state.get("nodes", "", "n2")["spec"].get("unschedulable")
        assert main([*args, "--yes"]) == 0
        out = capsys.readouterr().out
        assert "ml/train-42-hx7kq: eviction accepted; waiting until it is gone" in out
        on_n2 = {
            (p["metadata"]["namespace"], p["metadata"]["name"])
            for p in scenario.state.pods_on("n2")
        }
        assert on_n2 == scenario.kept  # every evicted pod had finished terminating
    assert [r["phase"] for r in audit(tmp_path)] == ["intent", "outcome"]
