"""Parts of the test Kubernetes API server on their own: selectors and patches follow the
semantics of the real server (the kubectl and client tests cover them only in part)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.kubeserver import KubeState, serve
from tests.kubeserver import objects as o
from tests.kubeserver.errors import ApiError
from tests.kubeserver.patching import PatchError, json_patch, merge_patch, strategic_merge
from tests.kubeserver.selectors import SelectorError, field_matcher, label_matcher

LABELED = {"metadata": {"labels": {"app": "serve", "tier": "gpu"}}}
UNLABELED: dict[str, Any] = {"metadata": {}}


@pytest.mark.parametrize(
    ("selector", "labeled", "unlabeled"),
    [
        ("app=serve", True, False),
        ("app==serve", True, False),
        ("app!=serve", False, True),  # absent keys satisfy !=, as on a real server
        ("app in (serve, web)", True, False),
        ("app notin (web)", True, True),
        ("app notin (serve)", False, True),
        ("tier", True, False),
        ("!tier", False, True),
        ("app=serve,tier in (gpu)", True, False),
        ("app=serve,!tier", False, False),
        ("", True, True),
    ],
)
def test_label_selectors(selector: str, labeled: bool, unlabeled: bool) -> None:
    matches = label_matcher(selector)
    assert (matches(LABELED), matches(UNLABELED)) == (labeled, unlabeled)


@pytest.mark.parametrize("selector", ["app in serve", "=x", "a b"])
def test_malformed_label_selectors_are_refused(selector: str) -> None:
    with pytest.raises(SelectorError):
        label_matcher(selector)


def test_field_selectors() -> None:
    pod = o.pod("p", node="n2", namespace="ml")
    assert field_matcher("Pod", "spec.nodeName=n2,metadata.namespace==ml")(pod)
    assert not field_matcher("Pod", "spec.nodeName!=n2")(pod)
    assert field_matcher("Pod", "status.phase!=Succeeded,metadata.name=p")(pod)
    assert field_matcher("Pod", "spec.nodeName=")(o.pod("q", node=None))
    assert field_matcher("Node", "spec.unschedulable=false")(o.node("n1"))
    assert field_matcher("Node", "spec.unschedulable=true")(o.node("n1", unschedulable=True))
    with pytest.raises(SelectorError, match=r"field label not supported: spec\.nodeName"):
        field_matcher("Node", "spec.nodeName=n1")


def test_merge_patch_follows_rfc_7386() -> None:
    target = {"a": {"b": 1, "c": [1, 2]}, "d": 2}
    assert merge_patch(target, {"a": {"b": None, "c": [3]}, "e": {"f": 1}}) == {
        "a": {"c": [3]},
        "d": 2,
        "e": {"f": 1},
    }
    assert target == {"a": {"b": 1, "c": [1, 2]}, "d": 2}  # never modified in place


def test_json_patch_follows_rfc_6902() -> None:
    target = {"spec": {"taints": [{"key": "a"}], "x": 1}, "metadata": {"labels": {"a/b": "1"}}}
    operations = [
        {"op": "add", "path": "/spec/taints/-", "value": {"key": "b"}},
        {"op": "test", "path": "/spec/x", "value": 1},
        {"op": "move", "from": "/spec/x", "path": "/spec/y"},
        {"op": "copy", "from": "/spec/y", "path": "/spec/z"},
        {"op": "replace", "path": "/spec/taints/0", "value": {"key": "c"}},
        {"op": "remove", "path": "/metadata/labels/a~1b"},
    ]
    assert json_patch(target, operations) == {
        "spec": {"taints": [{"key": "c"}, {"key": "b"}], "y": 1, "z": 1},
        "metadata": {"labels": {}},
    }
    with pytest.raises(PatchError):
        json_patch(target, [{"op": "test", "path": "/spec/x", "value": 2}])
    with pytest.raises(PatchError):
        json_patch(target, [{"op": "remove", "path": "/spec/missing"}])


def test_strategic_merge_merges_keyed_lists_and_honours_directives() -> None:
    target = {
        "spec": {
            "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}],
            "tolerations": [{"key": "t1"}],
            "finalizers": ["f1", "f2"],
        }
    }
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "z"}, {"name": "a", "$patch": "delete"}],
            "tolerations": [{"key": "t2"}],  # no merge key: replaced whole
            "$deleteFromPrimitiveList/finalizers": ["f1"],
        }
    }
    assert strategic_merge(target, patch) == {
        "spec": {
            "containers": [{"name": "b", "image": "z"}],
            "tolerations": [{"key": "t2"}],
            "finalizers": ["f2"],
        }
    }
    assert strategic_merge(target, {"spec": {"$patch": "replace", "x": 1}}) == {"spec": {"x": 1}}


def test_watch_gets_bookmarks_at_the_interval(tmp_path: Path) -> None:
    state = KubeState(bookmark_interval=0.5)
    state.add(o.node("n1"))
    with serve(tmp_path, state) as running:
        version = state.resource_version
        url = (
            f"{running.url}/api/v1/nodes?watch=1&resourceVersion={version}"
            "&allowWatchBookmarks=true&timeoutSeconds=3"
        )
        with urllib.request.urlopen(url, timeout=30) as response:
            events = [json.loads(line) for line in response]
    assert len(events) >= 2  # at least one on the way, one at the end
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert {e["object"]["metadata"]["resourceVersion"] for e in events} == {str(version)}


def _call(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_errors_are_status_objects_as_on_a_real_server(tmp_path: Path) -> None:
    state = KubeState()
    state.add(o.node("n1"))
    with serve(tmp_path, state) as running:
        base = running.url + "/api/v1"
        code, body = _call(base + "/namespaces/ml/pods/nope")
        assert (code, body["reason"], body["message"]) == (404, "NotFound", 'pods "nope" not found')
        assert body["details"] == {"name": "nope", "kind": "pods"}
        code, body = _call(running.url + "/apis/apps/v1/namespaces/ml/daemonsets/nope")
        assert body["message"] == 'daemonsets.apps "nope" not found'
        assert body["details"] == {"name": "nope", "group": "apps", "kind": "daemonsets"}
        code, body = _call(base + "/nodes", "POST", o.node("n1"))
        assert (code, body["reason"]) == (409, "AlreadyExists")
        stale = state.get("nodes", "", "n1")
        state.patch(
            "nodes", "", "n1", "application/merge-patch+json", {"metadata": {"labels": {"x": "1"}}}
        )
        code, body = _call(base + "/nodes/n1", "PUT", stale)
        assert (code, body["reason"]) == (409, "Conflict")
        assert "the object has been modified" in body["message"]
        code, body = _call(base + "/nodes?watch=true&resourceVersion=abc")
        assert (code, body["reason"]) == (400, "BadRequest")
        code, body = _call(base + "/widgets")
        assert code == 404
        code, body = _call(base + "/nodes", "DELETE")
        assert (code, body["reason"]) == (405, "MethodNotAllowed")


def _not_ready(pod: dict[str, Any]) -> dict[str, Any]:
    for condition in pod["status"]["conditions"]:
        if condition["type"] in ("Ready", "ContainersReady"):
            condition["status"] = "False"
    return pod


def test_unready_pods_go_past_a_met_budget_without_spending_it() -> None:
    state = KubeState(controller=False)
    state.add(o.node("n1"))
    for name in ("a", "b", "c"):
        state.add(o.pod(name, node="n1", labels={"app": "web"}))
    state.add(_not_ready(o.pod("sick", node="n1", labels={"app": "web"})))
    state.add(o.pdb("web", {"app": "web"}, min_available=3))  # 3 healthy of 3 desired: allows 0
    budget = state.get("poddisruptionbudgets", "default", "web")["status"]
    assert (budget["currentHealthy"], budget["desiredHealthy"]) == (3, 3)
    with pytest.raises(ApiError) as refused:
        state.evict("default", "a", {})
    assert refused.value.code == 429
    state.evict("default", "sick", {})  # not Ready, and the budget is met without it
    assert state.evicted == [("default", "sick")]
    assert state.get("poddisruptionbudgets", "default", "web")["status"]["disruptionsAllowed"] == 0


def test_always_allow_lets_unready_pods_go_even_below_budget() -> None:
    state = KubeState(controller=False)
    state.add(o.node("n1"))
    state.add(_not_ready(o.pod("sick", node="n1", labels={"app": "web"})))
    strict = o.pdb("web", {"app": "web"}, min_available=1)  # 0 healthy of 1 desired
    state.add(strict)
    with pytest.raises(ApiError):
        state.evict("default", "sick", {})
    state.patch(
        "poddisruptionbudgets", "default", "web", "application/merge-patch+json",
        {"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}},
    )  # fmt: skip
    state.evict("default", "sick", {})
    assert state.evicted == [("default", "sick")]


def test_pages_follow_the_storage_order_of_namespace_then_name(tmp_path: Path) -> None:
    state = KubeState()
    state.add(o.node("n1"))
    for namespace, name in (("a", "y"), ("a-b", "x"), ("a", "z")):
        state.add(o.pod(name, node="n1", namespace=namespace))
    with serve(tmp_path, state) as running:
        seen, token = [], ""
        while True:
            _, page = _call(f"{running.url}/api/v1/pods?limit=1&continue={token}")
            seen += [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in page["items"]]
            token = page["metadata"].get("continue", "")
            if not token:
                break
    assert seen == [("a", "y"), ("a", "z"), ("a-b", "x")]


def test_an_eviction_without_its_kind_still_honours_dry_run(tmp_path: Path) -> None:
    state = KubeState()
    state.add(o.node("n1"))
    state.add(o.pod("p", node="n1"))
    with serve(tmp_path, state) as running:
        body = {"metadata": {"name": "p"}, "deleteOptions": {"dryRun": ["All"]}}
        code, _ = _call(f"{running.url}/api/v1/namespaces/default/pods/p/eviction", "POST", body)
    assert code == 201
    assert state.evicted == [] and [p["metadata"]["name"] for p in state.list("pods")[0]] == ["p"]


def test_terminating_pod_takes_its_own_grace_period_by_default() -> None:
    state = KubeState(deletion_delay=60)
    state.add(o.node("n1"))
    slow = o.pod("slow", node="n1")
    slow["spec"]["terminationGracePeriodSeconds"] = 90
    state.add(slow)
    state.add(o.pod("quick", node="n1"))
    assert state.delete("pods", "default", "slow")["metadata"]["deletionGracePeriodSeconds"] == 90
    # kubectl's "default" grace period (-1) means the same.
    assert (
        state.delete("pods", "default", "quick", -1)["metadata"]["deletionGracePeriodSeconds"] == 30
    )
    assert state.delete("pods", "default", "quick", 0)["metadata"]["name"] == "quick"  # forced
    assert [p["metadata"]["name"] for p in state.list("pods")[0]] == ["slow"]
    state.close()


def test_list_then_watch_rebuilds_the_state_under_concurrent_writers(tmp_path: Path) -> None:
    """What an informer does: list, then watch from the list's version, applying each event.
    Under concurrent writers it must end with exactly the server's state, in version order."""
    import random
    import threading

    state = KubeState()
    state.add(o.node("n1"))
    with serve(tmp_path, state) as running:
        pods = running.url + "/api/v1/namespaces/default/pods"
        _, listing = _call(pods)
        known = {p["metadata"]["name"]: p for p in listing["items"]}
        versions: list[int] = []
        url = f"{pods}?watch=true&resourceVersion={listing['metadata']['resourceVersion']}"

        def follow() -> None:
            with urllib.request.urlopen(url, timeout=60) as response:
                for line in response:
                    event = json.loads(line)
                    obj = event["object"]
                    versions.append(int(obj["metadata"]["resourceVersion"]))
                    if event["type"] == "DELETED":
                        known.pop(obj["metadata"]["name"], None)
                    else:
                        known[obj["metadata"]["name"]] = obj
                    if obj["metadata"]["name"] == "end":
                        return

        def write(seed: int) -> None:
            rng = random.Random(seed)
            mine: list[str] = []
            for index in range(25):
                if mine and rng.random() < 0.3:
                    _call(f"{pods}/{mine.pop(rng.randrange(len(mine)))}", "DELETE")
                elif mine and rng.random() < 0.5:
                    patch = {"metadata": {"labels": {"step": str(index)}}}
                    data = json.dumps(patch).encode()
                    req = urllib.request.Request(
                        f"{pods}/{rng.choice(mine)}", data=data, method="PATCH",
                        headers={"Content-Type": "application/merge-patch+json"},
                    )  # fmt: skip
                    urllib.request.urlopen(req, timeout=30).close()
                else:
                    mine.append(f"w{seed}-{index}")
                    _call(pods, "POST", o.pod(mine[-1], node="n1"))

        follower = threading.Thread(target=follow)
        follower.start()
        writers = [threading.Thread(target=write, args=(seed,)) for seed in range(4)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        _call(pods, "POST", o.pod("end", node="n1"))
        follower.join(timeout=60)
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert known == {p["metadata"]["name"]: p for p in state.list("pods", "default")[0]}
