"""The test Kubernetes API server through the official client (sync and `kubernetes.aio`) and
raw HTTP: complete objects, evictions and PDBs, watches (resume, selectors, bookmarks, 410
after compaction), pagination, patches, Tables, the pod controller."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch

from tests.kubeserver import DrainScenario, KubeState, RunningServer, drain_scenario, serve
from tests.kubeserver import objects as o

SERVE_POD = "serve-7d4b9c6f5-abcde"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[DrainScenario, RunningServer]]:
    scenario = drain_scenario()
    with serve(tmp_path, scenario.state, require_token=True) as running:
        yield scenario, running


@pytest.fixture
def core(cluster: tuple[DrainScenario, RunningServer]) -> Iterator[client.CoreV1Api]:
    configuration = client.Configuration()
    config.load_kube_config(
        str(cluster[1].kubeconfig), context="test", client_configuration=configuration
    )
    with client.ApiClient(configuration) as api:
        yield client.CoreV1Api(api)


def request(
    running: RunningServer, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": "Bearer test-token", **headers}
    if data is not None:
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(running.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_every_kind_deserialises_through_the_official_client(
    cluster: tuple[DrainScenario, RunningServer], core: client.CoreV1Api
) -> None:
    api = core.api_client
    nodes = core.list_node().items
    assert [n.metadata.name for n in nodes] == ["n1", "n2", "n3", "n4"]
    assert nodes[1].status.allocatable["nvidia.com/gpu"] == "8"
    assert nodes[1].metadata.labels["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    pods = core.list_pod_for_all_namespaces().items
    assert len(pods) == len(cluster[1].state.list("pods")[0])
    train = core.read_namespaced_pod("train-42-hx7kq", "ml")
    assert train.spec.containers[0].resources.requests["nvidia.com/gpu"] == "4"
    assert train.metadata.owner_references[0].kind == "Job"
    apps, batch, policy = client.AppsV1Api(api), client.BatchV1Api(api), client.PolicyV1Api(api)
    assert [d.metadata.name for d in apps.list_daemon_set_for_all_namespaces().items] == [
        "nvidia-device-plugin"
    ]
    assert [d.metadata.name for d in apps.list_deployment_for_all_namespaces().items] == ["serve"]
    replicasets = apps.list_replica_set_for_all_namespaces().items
    assert {r.metadata.name for r in replicasets} == {"cache-5c8d7e9f1", "serve-7d4b9c6f5"}
    assert {j.metadata.name for j in batch.list_job_for_all_namespaces().items} == {
        "eval-7",
        "train-42",
    }
    budget = policy.read_namespaced_pod_disruption_budget("serve", "ml")
    assert (budget.status.disruptions_allowed, budget.status.current_healthy) == (0, 2)
    assert core.list_namespace().items[0].status.phase == "Active"


def test_requests_without_the_token_are_refused(
    cluster: tuple[DrainScenario, RunningServer],
) -> None:
    code, body = request(cluster[1], "GET", "/api/v1/nodes", Authorization="Bearer wrong")
    assert (code, body["reason"]) == (401, "Unauthorized")


def test_eviction_blocked_by_a_pdb_answers_429_like_a_real_server(
    cluster: tuple[DrainScenario, RunningServer], core: client.CoreV1Api
) -> None:
    scenario, _ = cluster
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=SERVE_POD, namespace="ml"))
    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_pod_eviction(SERVE_POD, "ml", eviction)
    assert refused.value.status == 429
    assert refused.value.headers["Content-Type"] == "application/json"
    body = json.loads(refused.value.body)
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["reason"] == "TooManyRequests" and body["code"] == 429
    assert body["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget serve needs 2 healthy pods and has 2 currently",
        }
    ]
    scenario.allow_disruptions(1)
    core.create_namespaced_pod_eviction(SERVE_POD, "ml", eviction)
    status = scenario.state.get("poddisruptionbudgets", "ml", "serve")["status"]
    assert status["disruptionsAllowed"] == 0 and SERVE_POD in status["disruptedPods"]
    assert scenario.state.evicted == [("ml", SERVE_POD)]
    with pytest.raises(client.ApiException) as missing:
        core.create_namespaced_pod_eviction(SERVE_POD, "ml", eviction)
    assert missing.value.status == 404


def test_a_pod_under_two_pdbs_cannot_be_evicted(
    cluster: tuple[DrainScenario, RunningServer],
) -> None:
    scenario, running = cluster
    scenario.state.add(o.pdb("serve-too", {"app": "serve"}, namespace="ml", max_unavailable=1))
    path = f"/api/v1/namespaces/ml/pods/{SERVE_POD}/eviction"
    code, body = request(running, "POST", path, {"apiVersion": "policy/v1", "kind": "Eviction"})
    assert code == 500 and "more than one PodDisruptionBudget" in body["message"]


def test_watch_resumes_from_a_resource_version_and_gets_410_after_compaction(
    cluster: tuple[DrainScenario, RunningServer], core: client.CoreV1Api
) -> None:
    state = cluster[0].state
    version = core.list_node().metadata.resource_version
    core.patch_node("n2", {"spec": {"unschedulable": True}})
    core.patch_node("n3", {"metadata": {"labels": {"maintenance": "yes"}}})
    events = [
        (event["type"], event["object"].metadata.name)
        for event in watch.Watch().stream(
            core.list_node, resource_version=version, timeout_seconds=1
        )
    ]
    assert events == [("MODIFIED", "n2"), ("MODIFIED", "n3")]
    state.compact()
    with pytest.raises(client.ApiException) as expired:
        for _ in watch.Watch().stream(core.list_node, resource_version=version, timeout_seconds=1):
            pass
    assert expired.value.status == 410
    latest = core.list_node().metadata.resource_version
    assert (
        list(watch.Watch().stream(core.list_node, resource_version=latest, timeout_seconds=1)) == []
    )


def test_watch_with_selectors_sees_objects_enter_and_leave(
    cluster: tuple[DrainScenario, RunningServer], core: client.CoreV1Api
) -> None:
    state = cluster[0].state
    version = core.list_namespaced_pod("ml").metadata.resource_version
    state.patch(
        "pods", "ml", "eval-7-p2m4d", "application/merge-patch+json",
        {"status": {"phase": "Succeeded"}}, "status",
    )  # fmt: skip
    state.delete("pods", "ml", "cache-5c8d7e9f1-qrstu")  # its ReplicaSet recreates it
    stream = watch.Watch().stream(
        core.list_namespaced_pod,
        "ml",
        field_selector="status.phase=Running",
        label_selector="app notin (serve),!job-name-x",
        resource_version=version,
        timeout_seconds=1,
    )
    seen = [(event["type"], event["object"].metadata.name) for event in stream]
    assert seen[:2] == [("DELETED", "eval-7-p2m4d"), ("DELETED", "cache-5c8d7e9f1-qrstu")]
    assert seen[2][0] == "ADDED" and seen[2][1].startswith("cache-5c8d7e9f1-")
    assert len(seen) == 3


def test_watch_from_now_lists_then_streams_and_ends_with_a_bookmark(
    cluster: tuple[DrainScenario, RunningServer],
) -> None:
    _, running = cluster
    url = running.url + "/api/v1/nodes?watch=true&timeoutSeconds=1&allowWatchBookmarks=true"
    req = urllib.request.Request(url, headers={"Authorization": "Bearer test-token"})
    with urllib.request.urlopen(req, timeout=30) as response:
        events = [json.loads(line) for line in response]
    assert [e["type"] for e in events] == ["ADDED"] * 4 + ["BOOKMARK"]
    assert events[-1]["object"]["metadata"]["resourceVersion"] == str(
        running.state.resource_version
    )


def test_list_pages_with_limit_and_continue(cluster: tuple[DrainScenario, RunningServer]) -> None:
    _, running = cluster
    names, token, pages = [], "", 0
    while True:
        code, page = request(running, "GET", f"/api/v1/pods?limit=5&continue={token}")
        assert code == 200
        names += [p["metadata"]["name"] for p in page["items"]]
        pages += 1
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert pages == 3 and sorted(names) == sorted(
        p["metadata"]["name"] for p in running.state.list("pods")[0]
    )
    _, first = request(running, "GET", "/api/v1/pods?limit=5")
    running.state.delete("pods", "default", "debug-shell")
    running.state.compact()  # the snapshot the token continues is gone
    code, body = request(
        running, "GET", f"/api/v1/pods?limit=5&continue={first['metadata']['continue']}"
    )
    assert (code, body["reason"]) == (410, "Expired")


@pytest.mark.parametrize(
    ("content_type", "patch"),
    [
        ("application/merge-patch+json", {"metadata": {"labels": {"zone": "b", "app": None}}}),
        (
            "application/strategic-merge-patch+json",
            {"metadata": {"labels": {"zone": "b", "app": None}}},
        ),
        (
            "application/json-patch+json",
            [
                {"op": "add", "path": "/metadata/labels/zone", "value": "b"},
                {"op": "remove", "path": "/metadata/labels/app"},
            ],
        ),
    ],
)
def test_patch_flavours(
    cluster: tuple[DrainScenario, RunningServer], content_type: str, patch: Any
) -> None:
    _, running = cluster
    before = running.state.get("pods", "ml", SERVE_POD)
    code, after = request(
        running, "PATCH", f"/api/v1/namespaces/ml/pods/{SERVE_POD}", patch,
        **{"Content-Type": content_type},
    )  # fmt: skip
    assert code == 200
    assert after["metadata"]["labels"] == {"pod-template-hash": "7d4b9c6f5", "zone": "b"}
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert after["metadata"]["uid"] == before["metadata"]["uid"]


def test_strategic_merge_merges_conditions_by_type(
    cluster: tuple[DrainScenario, RunningServer],
) -> None:
    _, running = cluster
    patch = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    code, after = request(
        running, "PATCH", "/api/v1/nodes/n1/status", patch,
        **{"Content-Type": "application/strategic-merge-patch+json"},
    )  # fmt: skip
    assert code == 200
    kinds = {c["type"]: c["status"] for c in after["status"]["conditions"]}
    assert kinds == {"MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False",
                     "Ready": "False"}  # fmt: skip


def test_table_responses_for_kubectl(cluster: tuple[DrainScenario, RunningServer]) -> None:
    _, running = cluster
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    code, table = request(running, "GET", "/api/v1/namespaces/ml/pods", Accept=accept)
    assert code == 200 and table["kind"] == "Table"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names[:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert [r["cells"][0] for r in table["rows"]] == [
        p["metadata"]["name"] for p in running.state.list("pods", "ml")[0]
    ]


def test_unsupported_field_selector_is_a_bad_request(
    cluster: tuple[DrainScenario, RunningServer],
) -> None:
    code, body = request(cluster[1], "GET", "/api/v1/pods?fieldSelector=spec.host%3Dn2")
    assert (code, body["message"]) == (400, "field label not supported: spec.host")


def test_controller_reschedules_onto_schedulable_nodes_with_room(tmp_path: Path) -> None:
    state = KubeState()
    for name in ("a", "b"):
        state.add(o.node(name, gpus=8))
    state.patch("nodes", "", "b", "application/merge-patch+json", {"spec": {"unschedulable": True}})
    sts = state.add(o.statefulset("db", {"app": "db"}, gpus=8))
    old = state.add(o.pod("db", node="a", owner=sts, labels={"app": "db"}, gpus=8))
    ds = state.add(o.daemonset("agent", {"app": "agent"}))
    state.add(o.pod("agent-x", node="a", owner=ds, labels={"app": "agent"}))
    state.add(o.pod("bare", node="a"))
    state.delete("pods", "default", "db")
    new = state.get("pods", "default", "db")  # a StatefulSet pod keeps its name
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    assert new["spec"]["nodeName"] == "a"
    state.add(o.pod("hog", node="a", gpus=8, owner=None))
    state.delete("pods", "default", "db")  # no schedulable node has 8 free GPUs now
    pending = state.get("pods", "default", "db")
    assert "nodeName" not in pending["spec"] and pending["status"]["phase"] == "Pending"
    state.delete("pods", "default", "agent-x")
    state.delete("pods", "default", "bare")
    assert {p["metadata"]["name"] for p in state.list("pods")[0]} == {"db", "hog"}


def test_deleted_pod_is_terminating_for_the_delay_then_gone(tmp_path: Path) -> None:
    state = KubeState(deletion_delay=0.2)
    state.add(o.node("a"))
    state.add(o.pod("p", node="a"))
    version = state.resource_version
    terminating = state.delete("pods", "default", "p", grace_seconds=30)
    assert terminating["metadata"]["deletionTimestamp"]
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30
    gone = threading.Event()

    def wait_for_deletion() -> None:
        seen = version
        while not gone.is_set():
            for change in state.changes_after(seen, 5):
                seen = change.resource_version
                if change.type == "DELETED":
                    gone.set()

    waiter = threading.Thread(target=wait_for_deletion, daemon=True)
    waiter.start()
    waiter.join(timeout=30)
    assert gone.is_set() and state.list("pods")[0] == []
    state.add(o.pod("q", node="a"))
    state.delete("pods", "default", "q", grace_seconds=0)  # a zero grace period is immediate
    assert state.list("pods")[0] == []


async def test_asyncio_client_lists_evicts_and_watches(
    cluster: tuple[DrainScenario, RunningServer],
) -> None:
    from kubernetes.aio import client as aio_client
    from kubernetes.aio import config as aio_config
    from kubernetes.aio import watch as aio_watch

    configuration = aio_client.Configuration()
    await aio_config.load_kube_config(
        str(cluster[1].kubeconfig), context="test", client_configuration=configuration
    )
    async with aio_client.ApiClient(configuration) as api:
        core = aio_client.CoreV1Api(api)
        pods = await core.list_namespaced_pod("ml", field_selector="spec.nodeName=n2")
        assert {p.metadata.name for p in pods.items} == {
            "cache-5c8d7e9f1-qrstu", SERVE_POD, "train-42-hx7kq"
        }  # fmt: skip
        eviction = aio_client.V1Eviction(
            metadata=aio_client.V1ObjectMeta(name="train-42-hx7kq", namespace="ml")
        )
        await core.create_namespaced_pod_eviction("train-42-hx7kq", "ml", eviction)
        seen = []
        async for event in aio_watch.Watch().stream(
            core.list_namespaced_pod, "ml", label_selector="job-name=train-42",
            resource_version=pods.metadata.resource_version, timeout_seconds=1,
        ):  # fmt: skip
            seen.append((event["type"], event["object"].metadata.name))
    assert seen[0] == ("DELETED", "train-42-hx7kq")
    assert seen[1][0] == "ADDED" and seen[1][1].startswith("train-42-")


def test_dry_run_writes_answer_without_changing_anything(
    cluster: tuple[DrainScenario, RunningServer],
) -> None:
    scenario, running = cluster
    code, body = request(
        running, "PATCH", "/api/v1/nodes/n2?dryRun=All", {"spec": {"unschedulable": True}},
        **{"Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert code == 200 and body["spec"]["unschedulable"] is True
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": SERVE_POD, "namespace": "ml"},
        "deleteOptions": {"dryRun": ["All"]},
    }
    path = f"/api/v1/namespaces/ml/pods/{SERVE_POD}/eviction"
    code, body = request(running, "POST", path, eviction)
    assert (code, body["reason"]) == (429, "TooManyRequests")  # a dry run checks the PDB too
    scenario.allow_disruptions(1)
    version = running.state.resource_version
    code, body = request(running, "POST", path, eviction)
    assert (code, body["status"]) == (201, "Success")
    assert running.state.resource_version == version
    assert running.state.evicted == [] and running.state.eviction_refusals == []
    assert "unschedulable" not in running.state.get("nodes", "", "n2")["spec"]
    assert running.state.get("pods", "ml", SERVE_POD)["metadata"].get("deletionTimestamp") is None


def test_recorded_scenario_matches_the_builder() -> None:
    """tests/fixtures/kubernetes/drain-scenario.json is drain_scenario(), recorded."""
    from tests.kubeserver.recording import FIXTURE, render

    assert FIXTURE.read_text() == render(drain_scenario().state), (
        "regenerate: .venv/bin/python -m tests.kubeserver.recording > " + str(FIXTURE)
    )
    kinds = {item["kind"] for item in json.loads(FIXTURE.read_text())["items"]}
    assert kinds == {"Namespace", "Node", "Pod", "DaemonSet", "Deployment", "ReplicaSet", "Job",
                     "PodDisruptionBudget"}  # fmt: skip
