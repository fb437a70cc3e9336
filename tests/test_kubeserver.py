"""The test Kubernetes API server is faithful where it matters: real kubectl lists, cordons and
drains against it as against a cluster (PDB 429 retried until the budget allows)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kubeserver import (
    DrainScenario,
    KubeState,
    RunningServer,
    drain_scenario,
    find_kubectl,
    serve,
)
from tests.kubeserver import kubectl as run_kubectl
from tests.kubeserver.kubectl import kubectl_version

DRAIN_FLAGS = ("--ignore-daemonsets", "--delete-emptydir-data", "--force")
PDB_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."


def _kubectl_mark() -> pytest.MarkDecorator:
    """Skip where no kubectl is installed, except under CI=true, where the run must fail."""
    reason = None if find_kubectl() else "kubectl not installed (scripts/test installs it)"
    if reason and os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        raise RuntimeError(f"CI is set but {reason}")
    return pytest.mark.skipif(reason is not None, reason=reason or "")


pytestmark = _kubectl_mark()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[DrainScenario, RunningServer]]:
    scenario = drain_scenario()
    with serve(tmp_path, scenario.state) as running:
        yield scenario, running


def kubectl(running: RunningServer, *args: str) -> tuple[int, str, str]:
    result = run_kubectl(running.kubeconfig, *args)
    return result.returncode, result.stdout, result.stderr


def _names(pods: list[dict]) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods}


def test_get_nodes_prints_the_server_side_columns(
    cluster: tuple[DrainScenario, RunningServer],
) -> None:
    _, running = cluster
    code, out, err = kubectl(running, "get", "nodes", "-o", "wide")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert sorted(rows) == ["n1", "n2", "n3", "n4"]
    n2 = running.state.get("nodes", "", "n2")
    assert rows["n2"][1] == "Ready" and rows["n2"][4] == "v1.32.0"
    assert rows["n2"][5] == n2["status"]["addresses"][0]["address"]


def test_get_pods_json_lists_every_pod_of_the_state(
    cluster: tuple[DrainScenario, RunningServer],
) -> None:
    _, running = cluster
    code, out, err = kubectl(running, "get", "pods", "-A", "-o", "json")
    assert code == 0, err
    listed = json.loads(out)["items"]
    assert _names(listed) == _names(running.state.list("pods")[0])
    assert {p["kind"] for p in listed} == {"Pod"}
    plugin = next(p for p in listed if p["metadata"]["name"] == "nvidia-device-plugin-1x1z")
    assert plugin["spec"]["nodeName"] == "n2"


def test_selectors_are_applied_by_the_server(cluster: tuple[DrainScenario, RunningServer]) -> None:
    _, running = cluster
    code, out, err = kubectl(
        running,
        "get",
        "pods",
        "-A",
        "-o",
        "name",
        "--field-selector",
        "spec.nodeName=n2,metadata.namespace!=ml",
    )
    assert code == 0, err
    assert out.split() == ["pod/debug-shell", "pod/nvidia-device-plugin-1x1z", "pod/kube-proxy-n2"]
    code, out, err = kubectl(running, "get", "pods", "-A", "-o", "name", "-l", "app in (serve)")
    assert code == 0, err
    assert out.split() == ["pod/serve-7d4b9c6f5-abcde", "pod/serve-7d4b9c6f5-fghij"]
    assert any("labelSelector=app+in+%28serve%29" in path for _, path in running.http.requests)
    code, _, err = kubectl(running, "get", "pods", "-A", "--field-selector", "spec.host=n2")
    assert code != 0
    assert "field label not supported: spec.host" in err


def test_cordon_and_uncordon(cluster: tuple[DrainScenario, RunningServer]) -> None:
    _, running = cluster
    code, out, err = kubectl(running, "cordon", "n2")
    assert code == 0, err
    assert out.strip() == "node/n2 cordoned"
    node = running.state.get("nodes", "", "n2")
    assert node["spec"]["unschedulable"] is True
    assert [t["key"] for t in node["spec"]["taints"]] == ["node.kubernetes.io/unschedulable"]
    assert ("PATCH", "/api/v1/nodes/n2") in running.http.requests
    _, out, _ = kubectl(running, "get", "node", "n2", "--no-headers")
    assert out.split()[1] == "Ready,SchedulingDisabled"
    code, out, err = kubectl(running, "uncordon", "n2")
    assert code == 0, err
    node = running.state.get("nodes", "", "n2")
    assert "unschedulable" not in node["spec"] and "taints" not in node["spec"]


def test_drain_refuses_what_needs_a_flag(cluster: tuple[DrainScenario, RunningServer]) -> None:
    _, running = cluster
    code, _, err = kubectl(running, "drain", "n2", "--timeout=30s")
    assert code != 0
    # The wording of kubectl 1.20 (Debian's) and 1.32 differ only before the parenthesis.
    assert (
        "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "
        "gpu-operator/nvidia-device-plugin-1x1z"
    ) in err
    assert "(use --force to override): default/debug-shell" in err
    assert (
        "cannot delete Pods with local storage (use --delete-emptydir-data to override): "
        "ml/cache-5c8d7e9f1-qrstu"
    ) in err
    assert running.state.evicted == []


def test_drain_waits_for_the_pdb_then_evicts(cluster: tuple[DrainScenario, RunningServer]) -> None:
    scenario, running = cluster
    scenario.allow_after_refusals(1)
    code, out, err = kubectl(running, "drain", "n2", *DRAIN_FLAGS, "--timeout=120s")
    assert code == 0, err
    assert re.search(r"^node/n2 (drained|evicted)$", out, re.MULTILINE)  # 1.32 | 1.20
    assert PDB_MESSAGE in err and "(will retry after 5s)" in err
    state = running.state
    assert set(state.evicted) == scenario.evictable
    assert state.eviction_refusals == [("ml", "serve-7d4b9c6f5-abcde")]
    assert _names(state.pods_on("n2")) == scenario.kept
    code, out, _ = kubectl(running, "get", "pods", "-A", "-o", "json",
                           "--field-selector", "spec.nodeName=n2")  # fmt: skip
    assert code == 0 and _names(json.loads(out)["items"]) == scenario.kept
    # The ReplicaSet and the Job brought their pods back elsewhere; the bare pod stays gone.
    pods = state.list("pods")[0]
    serving = [p for p in pods if p["metadata"]["name"].startswith("serve-")]
    assert len(serving) == 2 and all(p["spec"]["nodeName"] != "n2" for p in serving)
    assert [
        p["spec"]["nodeName"] != "n2" for p in pods if p["metadata"]["name"].startswith("train-42-")
    ] == [True]
    assert ("default", "debug-shell") not in _names(pods)
    budget = state.get("poddisruptionbudgets", "ml", "serve")
    assert budget["status"]["disruptionsAllowed"] == 0
    assert list(budget["status"]["disruptedPods"]) == ["serve-7d4b9c6f5-abcde"]


def test_drain_blocked_by_the_pdb_times_out(cluster: tuple[DrainScenario, RunningServer]) -> None:
    scenario, running = cluster
    code, _, err = kubectl(running, "drain", "n2", *DRAIN_FLAGS, "--timeout=6s")
    assert code != 0
    assert PDB_MESSAGE in err and "global timeout reached: 6s" in err
    state = running.state
    blocked = ("ml", "serve-7d4b9c6f5-abcde")
    assert set(state.evicted) == scenario.evictable - {blocked}
    assert set(state.eviction_refusals) == {blocked}
    assert blocked in _names(state.pods_on("n2"))


def test_get_pdb_shows_allowed_disruptions(cluster: tuple[DrainScenario, RunningServer]) -> None:
    scenario, running = cluster
    _, out, _ = kubectl(running, "get", "pdb", "-n", "ml", "--no-headers")
    assert out.split()[:4] == ["serve", "2", "N/A", "0"]
    scenario.allow_disruptions(1)
    _, out, _ = kubectl(running, "get", "pdb", "-n", "ml", "--no-headers")
    assert out.split()[:4] == ["serve", "2", "N/A", "1"]


def test_delete_pod_recreates_owned_pods_only(cluster: tuple[DrainScenario, RunningServer]) -> None:
    _, running = cluster
    code, _, err = kubectl(running, "delete", "pod", "-n", "ml", "cache-5c8d7e9f1-qrstu")
    assert code == 0, err
    code, _, err = kubectl(running, "delete", "pod", "debug-shell")
    assert code == 0, err
    names = {p["metadata"]["name"] for p in running.state.list("pods")[0]}
    assert "debug-shell" not in names and "cache-5c8d7e9f1-qrstu" not in names
    assert len([n for n in names if n.startswith("cache-5c8d7e9f1-")]) == 1


@pytest.mark.skipif(
    kubectl_version() < (1, 23),
    reason="kubectl before 1.23 checks dry-run support in the protobuf OpenAPI document, "
    "which the test server does not serve (its dry run is tested through the API)",
)
def test_server_side_dry_run_drain_changes_nothing(
    cluster: tuple[DrainScenario, RunningServer],
) -> None:
    scenario, running = cluster
    scenario.allow_disruptions(1)
    before = running.state.list("pods")[0]
    code, out, err = kubectl(running, "drain", "n2", *DRAIN_FLAGS, "--dry-run=server")
    assert code == 0, err
    assert "node/n2 drained (server dry run)" in out
    assert any(method == "POST" and "eviction" in path for method, path in running.http.requests)
    assert running.state.list("pods")[0] == before
    assert running.state.evicted == []
    assert "unschedulable" not in running.state.get("nodes", "", "n2")["spec"]


def test_drain_without_eviction_deletes_past_the_pdb(tmp_path: Path) -> None:
    scenario = drain_scenario(KubeState(deletion_delay=0.5))
    with serve(tmp_path, scenario.state) as running:
        version = running.state.resource_version
        code, _, err = kubectl(running, "drain", "n2", *DRAIN_FLAGS, "--disable-eviction",
                               "--grace-period=7", "--timeout=60s")  # fmt: skip
        assert code == 0, err
        assert running.state.evicted == []  # deleted, not evicted: no PDB was asked
        assert _names(running.state.pods_on("n2")) == scenario.kept
        deletes = [path for method, path in running.http.requests if method == "DELETE"]
        assert len(deletes) == len(scenario.evictable)
        # The grace period came through kubectl's protobuf DeleteOptions.
        terminating = [
            change.object["metadata"]
            for change in running.state.changes_after(version, 0)
            if change.plural == "pods" and change.type == "MODIFIED"
        ]
        assert {m["deletionGracePeriodSeconds"] for m in terminating} == {7}
        assert {(m["namespace"], m["name"]) for m in terminating} == scenario.evictable
