"""``aiconsole serve`` exports Kubernetes node states and health findings: unit checks on the
families, then a real Prometheus scraping ``serve --context`` against the test API server,
its answers compared with what ``snapshot --json`` says of the same cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from aiconsole.exporter.server import MetricsServer, Published, start
from aiconsole.model import Finding, FleetSnapshot, KubeCluster, KubeNode, Subject
from tests.conftest import REPO, run_aiconsole
from tests.kubeserver import drain_scenario, serve
from tests.kubeserver import objects as o
from tests.prometheus_server import PrometheusServer, free_port, poll, scrape_config
from tests.test_prometheus_exporter import get, samples, synthetic_snapshot


@pytest.fixture
def served() -> Iterator[tuple[MetricsServer, Published]]:
    published = Published()
    server = start(("127.0.0.1", 0), published)
    yield server, published
    server.shutdown()
    server.server_close()


def _node(name: str, **fields: object) -> KubeNode:
    return KubeNode(name=name, summary=str(fields.pop("summary", "Ready")), **fields)  # type: ignore[arg-type]


def _finding(rule: str, severity: str, subject: Subject, **fields: object) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,  # type: ignore[arg-type]
        subject=subject,
        summary=rule,
        first_seen=1.0,
        last_seen=2.0,
        incident="i",
        **fields,  # type: ignore[arg-type]
    )


def test_kubernetes_node_states_and_gpu_counts(served: tuple[MetricsServer, Published]) -> None:
    server, published = served
    nodes = (
        _node(
            "k1",
            ready=True,
            gpu_capacity={"nvidia.com/gpu": 8},
            gpu_allocatable={"nvidia.com/gpu": 7},
            gpu_requested={"nvidia.com/gpu": 5},
        ),
        _node("k2", summary="NotReady,SchedulingDisabled", ready=False, unschedulable=True),
        _node("k3", summary="Unknown", ready=None, gpu_capacity={"nvidia.com/mig-1g.10gb": 7}),
    )
    clusters = (
        KubeCluster(name="prod", status="ok", nodes=nodes),
        KubeCluster(name="lab", status="error", reason="unreachable"),
    )
    published.publish(msgspec.structs.replace(synthetic_snapshot(2), kubernetes=clusters))
    found = samples(get(server)[0].decode())

    def by_node(name: str) -> dict[tuple[str, ...], float]:
        return {tuple(lab.values()): value for lab, value in found.get(name, [])}

    assert by_node("aiconsole_kubernetes_up") == {("prod",): 1.0, ("lab",): 0.0}
    assert by_node("aiconsole_kubernetes_node_state") == {
        ("prod", "k1", "Ready"): 1.0,
        ("prod", "k2", "NotReady,SchedulingDisabled"): 1.0,
        ("prod", "k3", "Unknown"): 1.0,
    }
    # Readiness unknown: no series, not a false 0.
    assert by_node("aiconsole_kubernetes_node_ready") == {("prod", "k1"): 1.0, ("prod", "k2"): 0.0}
    assert by_node("aiconsole_kubernetes_node_cordoned") == {
        ("prod", "k1"): 0.0,
        ("prod", "k2"): 1.0,
        ("prod", "k3"): 0.0,
    }
    assert by_node("aiconsole_kubernetes_node_gpus") == {
        ("prod", "k1", "nvidia.com/gpu"): 8.0,
        ("prod", "k3", "nvidia.com/mig-1g.10gb"): 7.0,
    }
    assert by_node("aiconsole_kubernetes_node_gpus_allocatable") == {
        ("prod", "k1", "nvidia.com/gpu"): 7.0
    }
    assert by_node("aiconsole_kubernetes_node_gpus_allocated") == {
        ("prod", "k1", "nvidia.com/gpu"): 5.0
    }


def test_findings_are_counted_by_rule_severity_and_subject_without_free_text(
    served: tuple[MetricsServer, Published],
) -> None:
    server, published = served
    gpu = Subject(kind="gpu", host="gpu01", name="3")
    findings = (
        _finding("gpu.xid_critical", "critical", gpu, evidence={"xid": "79"}),
        _finding("gpu.hot", "warning", Subject(kind="gpu", host="gpu01", name="1")),
        _finding("gpu.hot", "warning", Subject(kind="gpu", host="gpu01", name="2")),
        _finding("k8s.node_not_ready", "critical", Subject(kind="k8s_node", cluster="c", name="n")),
        _finding("gpu.hot", "warning", Subject(kind="gpu", host="gpu02"), acknowledged="bob: ok"),
        _finding("host.disk", "warning", Subject(kind="host", host="gpu03"), silenced_until=9e9),
    )
    published.publish(msgspec.structs.replace(synthetic_snapshot(2), findings=findings))
    found = samples(get(server)[0].decode())
    counted = {
        (lab["rule"], lab["severity"], lab["hostname"], lab["cluster"]): value
        for lab, value in found["aiconsole_findings"]
    }
    assert counted == {
        ("gpu.xid_critical", "critical", "gpu01", ""): 1.0,
        ("gpu.hot", "warning", "gpu01", ""): 2.0,
        ("k8s.node_not_ready", "critical", "", "c"): 1.0,
    }  # acknowledged and silenced ones are left out
    for lab, _ in found["aiconsole_findings"]:
        assert set(lab) == {"rule", "severity", "hostname", "cluster"}


def _finding_counts(snapshot: FleetSnapshot, cluster: str) -> dict[tuple[str, str, str], float]:
    counts = Counter(
        (f.rule, f.severity, f.subject.cluster or "")
        for f in snapshot.findings
        if f.subject.cluster == cluster
    )
    return {key: float(n) for key, n in counts.items()}


def test_prometheus_scraping_serve_reads_back_kubernetes_nodes_and_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = drain_scenario()
    # A fifth node, cordoned and NotReady: a critical finding and every state gauge at work.
    scenario.state.add(o.node("n5", gpus=4, ready=False, unschedulable=True))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("AICONSOLE_CONFIG", raising=False)
    (tmp_path / "server").mkdir()
    with serve(tmp_path / "server", scenario.state) as running:
        env = dict(os.environ, KUBECONFIG=str(running.kubeconfig))
        env.pop("LD_LIBRARY_PATH", None)
        env.pop("FAKE_NVML_CONFIG", None)
        code, stdout, stderr = run_aiconsole(
            "--context", "test", "snapshot", "--json", "--window", "0", env=env
        )
        assert code in (0, 2), stderr
        expected = msgspec.json.decode(stdout, type=FleetSnapshot)
        (kube,) = expected.kubernetes
        assert _finding_counts(expected, "test")  # the NotReady node is judged
        port = free_port()
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "aiconsole", "--interval", "0.5", "--context", "test"),
                *("serve", "--listen", f"127.0.0.1:{port}"),
            ],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        prometheus = PrometheusServer(
            tmp_path / "prometheus", scrape_config({"aiconsole": [f"127.0.0.1:{port}"]})
        )
        try:
            prometheus.wait_ready()
            prometheus.wait_for_series("aiconsole_kubernetes_node_state", count=len(kube.nodes))

            def values(promql: str) -> dict[tuple[str, ...], float]:
                found = {}
                for series in prometheus.query(promql):
                    labels = series["metric"]
                    key = tuple(labels[k] for k in ("cluster", "node", "state") if k in labels)
                    found[key] = float(series["value"][1])
                return found

            assert values("aiconsole_kubernetes_up") == {("test",): 1.0}
            assert values("aiconsole_kubernetes_node_state") == {
                ("test", n.name, n.summary): 1.0 for n in kube.nodes
            }
            assert values("aiconsole_kubernetes_node_ready") == {
                ("test", n.name): float(n.ready) for n in kube.nodes if n.ready is not None
            }
            assert values("aiconsole_kubernetes_node_cordoned") == {
                ("test", n.name): float(n.unschedulable) for n in kube.nodes
            }
            for family, field in (
                ("gpus", "gpu_capacity"),
                ("gpus_allocatable", "gpu_allocatable"),
                ("gpus_allocated", "gpu_requested"),
            ):
                wanted = {
                    ("test", n.name): float(sum(getattr(n, field).values()))
                    for n in kube.nodes
                    if getattr(n, field)
                }
                got = values(f"sum by (cluster, node) (aiconsole_kubernetes_node_{family})")
                assert got == wanted, family
            # The live monitor raises a finding after a few refreshes (hysteresis): wait.
            wanted_findings = _finding_counts(expected, "test")

            def findings_match() -> bool:
                got = {
                    (s["metric"]["rule"], s["metric"]["severity"], s["metric"]["cluster"]): float(
                        s["value"][1]
                    )
                    for s in prometheus.query('aiconsole_findings{cluster="test"}')
                }
                return got == wanted_findings

            poll(findings_match, 60, f"aiconsole_findings never matched {wanted_findings}")
        finally:
            prometheus.stop()
            process.terminate()
            _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert b"Traceback" not in err
