"""Kubernetes objects, drain rules and plans, from complete API objects (no server needed)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from aiconsole.actions.kubernetes import (
    DrainOptions,
    plan_cordon,
    plan_drain,
    plan_restart,
)
from aiconsole.actions.policy import Policy
from aiconsole.config import ConfigError, load
from aiconsole.kubernetes.drain import budget_from, decide
from aiconsole.kubernetes.names import InvalidName, check_namespace, check_node, check_reason
from aiconsole.kubernetes.objects import node_from, pod_from, with_requests
from aiconsole.kubernetes.operations import cordon_body
from aiconsole.kubernetes.reflector import Reflector
from aiconsole.model import KubeCluster, KubePod
from tests.kubeserver import objects as o

Obj = dict[str, Any]


def stored(obj: Obj, uid: str) -> Obj:
    """As the API server returns an object: with a uid and a creation time."""
    obj = copy.deepcopy(obj)
    obj["metadata"].update(uid=uid, creationTimestamp="2026-01-01T00:00:00Z")
    return obj


JOB = stored(o.job("train", {"job-name": "train"}, namespace="ml", gpus=4), "job-uid")
DS = stored(o.daemonset("plugin", {"app": "plugin"}, namespace="gpu-operator"), "ds-uid")
RS = stored(o.replicaset("serve-1", {"app": "serve"}, namespace="ml"), "rs-uid")


def pod(name: str, uid: str = "", **kwargs: Any) -> KubePod:
    converted = pod_from(stored(o.pod(name, **kwargs), uid or f"uid-{name}"))
    assert converted is not None
    return converted


def cluster(pods: list[KubePod], nodes: int = 4, **node_kwargs: Any) -> KubeCluster:
    raw = [o.node(f"n{i}", **(node_kwargs if i == 1 else {})) for i in range(1, nodes + 1)]
    converted = [n for n in map(node_from, raw) if n is not None]
    return KubeCluster(
        name="test",
        status="ok",
        nodes=tuple(with_requests(converted, pods)),
        pods=tuple(pods),
    )


def test_node_reads_gpus_conditions_taints_and_cordon_state() -> None:
    raw = o.node("gpu-7", gpus=8, unschedulable=True, ready=False)
    raw["spec"]["taints"] = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    raw["status"]["capacity"]["nvidia.com/mig-1g.10gb"] = "7"
    raw["status"]["allocatable"]["amd.com/gpu"] = "2"
    node = node_from(raw)
    assert node is not None
    assert node.summary == "NotReady,SchedulingDisabled"
    assert node.ready is False and node.unschedulable
    assert node.taints == ("nvidia.com/gpu=present:NoSchedule",)
    assert node.gpu_product == "NVIDIA-H100-80GB-HBM3"
    assert node.gpu_capacity == {"nvidia.com/gpu": 8, "nvidia.com/mig-1g.10gb": 7}
    assert node.gpu_allocatable == {"nvidia.com/gpu": 8, "amd.com/gpu": 2}
    assert any(problem.startswith("Ready=False") for problem in node.problems)
    assert "cpu" not in node.gpu_capacity  # only GPU resources are kept


def test_pod_reads_owner_gpus_restarts_and_pending_reason() -> None:
    running = pod("train-x", node="n1", namespace="ml", owner=JOB, gpus=4)
    assert (running.owner_kind, running.owner_name, running.owner_uid) == (
        "Job",
        "train",
        "job-uid",
    )
    assert running.gpus == {"nvidia.com/gpu": 4} and running.node == "n1"
    assert running.created_at == 1767225600.0
    pending = pod("waiting", node=None, gpus=2)
    assert pending.phase == "Pending" and pending.node is None
    assert pending.pending_reason == "Unschedulable: 0/0 nodes are available"
    raw = stored(o.pod("crashy", node="n1"), "u1")
    raw["status"]["containerStatuses"] = [{"restartCount": 3}, {"restartCount": 2}]
    converted = pod_from(raw)
    assert converted is not None and converted.restarts == 5


def test_gpu_requests_count_only_pods_that_still_hold_them() -> None:
    pods = [
        pod("a", node="n1", gpus=2, owner=JOB),
        pod("b", node="n1", gpus=1, owner=JOB),
        pod("done", node="n1", gpus=4, owner=JOB, phase="Succeeded"),
        pod("elsewhere", node="n2", gpus=8, owner=JOB),
    ]
    nodes = {n.name: n for n in cluster(pods).nodes}
    assert nodes["n1"].gpu_requested == {"nvidia.com/gpu": 3}
    assert (nodes["n1"].gpus_used, nodes["n1"].gpus_total) == (3, 8)
    assert nodes["n3"].gpu_requested == {}


def test_hostile_text_is_cleaned_and_wrong_types_are_ignored() -> None:
    raw = o.node("n1")
    raw["metadata"]["labels"]["nvidia.com/gpu.product"] = "H100\x1b]52;c;ZXZpbA==\x07"
    raw["metadata"]["annotations"]["aiconsole/reason"] = "\u202eevil"
    raw["status"]["conditions"] = "not a list"
    raw["status"]["allocatable"]["nvidia.com/gpu"] = "1e9"  # not a whole count
    node = node_from(raw)
    assert node is not None
    assert node.gpu_product is not None and "\x1b" not in node.gpu_product
    assert "\x07" not in node.gpu_product
    assert node.reason == "evil"
    assert node.ready is None and node.summary == "Unknown"
    assert node.gpu_allocatable == {}
    assert node_from({"metadata": {"name": 7}}) is None
    assert pod_from({"metadata": {"name": "x"}}) is None  # no namespace: unusable
    assert pod_from("junk") is None


def test_drain_rules_follow_kubectls_order_and_flags() -> None:
    mirror = pod("kube-proxy", node="n1", annotations={"kubernetes.io/config.mirror": "x"})
    daemon = pod("plugin-a", node="n1", owner=DS, emptydir=True)
    scratch = pod("cache", node="n1", owner=RS, emptydir=True)
    bare = pod("shell", node="n1")
    done = pod("old", node="n1", phase="Succeeded")
    job = pod("train-a", node="n1", owner=JOB, gpus=4)
    assert decide(mirror).verdict == "skip"
    # A DaemonSet pod is skipped before its emptyDir is looked at (first rule decides).
    assert decide(daemon).verdict == "skip" and "DaemonSet" in decide(daemon).why
    # An orphan (its DaemonSet deleted) is no longer skipped: --force evicts it, once the
    # later rules (here its emptyDir) allow it too.
    assert decide(daemon, orphaned_daemonset=True).verdict == "refuse"
    assert "--delete-emptydir-data" in decide(daemon, orphaned_daemonset=True, force=True).why
    both = decide(daemon, orphaned_daemonset=True, force=True, delete_emptydir_data=True)
    assert both.verdict == "evict"
    refused = decide(scratch)
    assert refused.verdict == "refuse" and "--delete-emptydir-data" in refused.why
    assert decide(scratch, delete_emptydir_data=True).verdict == "evict"
    refused = decide(bare)
    assert refused.verdict == "refuse" and "--force" in refused.why
    assert decide(bare, force=True).verdict == "evict"
    assert decide(done).verdict == "delete"  # finished and bare: deleted without --force
    assert decide(job).verdict == "evict" and decide(job).why == ""


def test_pdb_selectors_match_like_the_api_server() -> None:
    web = pod("web-1", node="n1", namespace="ml", labels={"app": "web", "tier": "front"})
    budget = budget_from({**o.pdb("web", {"app": "web"}, namespace="ml"), "status": {}})
    assert budget is not None and budget.covers(web) and budget.disruptions_allowed == 0
    other_ns = budget_from(o.pdb("web", {"app": "web"}, namespace="default"))
    assert other_ns is not None and not other_ns.covers(web)
    raw = o.pdb("x", {}, namespace="ml")
    raw["spec"]["selector"] = {
        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]
    }
    excluded = budget_from(raw)
    assert excluded is not None and not excluded.covers(web)
    raw["spec"]["selector"] = {}  # policy/v1: an empty selector selects the whole namespace
    everything = budget_from(raw)
    assert everything is not None and everything.covers(web)
    raw["spec"].pop("selector")
    nothing = budget_from(raw)
    assert nothing is not None and not nothing.covers(web)


def test_drain_plan_lists_evicted_skipped_refused_and_blocking_budgets() -> None:
    pods = [
        pod("plugin-a", node="n2", namespace="gpu-operator", owner=DS),
        pod("train-a", node="n2", namespace="ml", owner=JOB, gpus=4),
        pod("serve-a", node="n2", namespace="ml", owner=RS, labels={"app": "serve"}, gpus=1),
        pod("shell", node="n2"),
        pod("train-b", node="n3", namespace="ml", owner=JOB, gpus=4),
    ]
    raw_pdb = {
        **o.pdb("serve", {"app": "serve"}, namespace="ml"),
        "status": {"disruptionsAllowed": 0},
    }
    budget = budget_from(raw_pdb)
    assert budget is not None
    plan = plan_drain(cluster(pods), ["n2"], Policy(), DrainOptions(), [budget])
    text = plan.describe()
    assert "skip gpu-operator/plugin-a" in text and "DaemonSet" in text
    assert "evict ml/train-a (Job train, Running, 4 nvidia.com/gpu)" in text
    assert "PodDisruptionBudget ml/serve allows 0 disruptions" in text
    assert not plan.allowed
    assert plan.refusals == (
        "default/shell on n2: declares no controller: nothing would recreate it "
        "(--force allows it)",
    )
    forced = plan_drain(cluster(pods), ["n2"], Policy(), DrainOptions(force=True), [budget])
    assert forced.allowed
    assert forced.targets == ("n2", "ml/train-a", "ml/serve-a", "default/shell")
    assert "ml/train-b" not in forced.targets  # another node's pod is never touched
    assert forced.before["ml/train-a"] == "uid-train-a n2"


def test_blast_radius_counts_gpu_nodes_already_out() -> None:
    four = cluster([])
    assert plan_drain(four, ["n2"], Policy(), DrainOptions(), []).allowed  # 1 of 4 = 25 %
    refused = plan_drain(four, ["n2", "n3"], Policy(), DrainOptions(), [])
    assert "would leave 2 of 4 GPU nodes of test out of service" in refused.refusals[0]
    assert "--max-out-of-service 0.50" in refused.refusals[0]
    # --force keeps kubectl's meaning on Kubernetes: it does not lift the cap.
    assert not plan_drain(four, ["n2", "n3"], Policy(), DrainOptions(force=True), []).allowed
    assert plan_drain(
        four, ["n2", "n3"], Policy(max_out_of_service=0.5), DrainOptions(), []
    ).allowed
    one_down = cluster([], unschedulable=True)  # n1 is cordoned already
    plan = plan_cordon(one_down, ["n2"], Policy(), None)
    assert "(1 already out)" in plan.refusals[0]
    # Acting on a node that is already out takes nothing more out.
    assert plan_cordon(one_down, ["n1"], Policy(), None).allowed


def test_cordon_and_restart_plans() -> None:
    plan = plan_cordon(cluster([]), ["n9"], Policy(), None)
    assert plan.refusals == ("no node n9 in context test",)
    with pytest.raises(InvalidName):
        plan_cordon(cluster([]), ["N1/../x"], Policy(), None)
    pods = [pod("train-a", node="n1", namespace="ml", owner=JOB), pod("shell", node="n1")]
    restart = plan_restart(cluster(pods), ["ml/train-a", "shell"], "default")
    assert restart.targets == ("ml/train-a", "default/shell")
    assert "default/shell is a bare pod" in restart.refusals[0]
    ok = plan_restart(cluster(pods), ["train-a"], "ml")
    assert ok.allowed and ok.before == {"ml/train-a": "uid-train-a job-uid"}


def test_cordon_patch_is_kubectls_plus_the_reason() -> None:
    assert cordon_body(True, None) == {"spec": {"unschedulable": True}}
    assert cordon_body(True, "XID 79") == {
        "spec": {"unschedulable": True},
        "metadata": {"annotations": {"aiconsole/reason": "XID 79"}},
    }
    assert cordon_body(False, None) == {
        "spec": {"unschedulable": None},
        "metadata": {"annotations": {"aiconsole/reason": None}},
    }


@pytest.mark.parametrize("name", ["n1;reboot", "N1", "a/b", "..", "-x", "x" * 254, ""])
def test_names_that_cannot_be_kubernetes_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName):
        check_node(name)


def test_namespace_and_reason_checks() -> None:
    check_namespace("kube-system")
    with pytest.raises(InvalidName):
        check_namespace("a.b")  # a label, not a subdomain
    with pytest.raises(InvalidName):
        check_reason("two\nlines")
    assert check_reason("GPU 3 XID 79") == "GPU 3 XID 79"


def test_kubernetes_config_table(tmp_path: Path) -> None:
    text = '[kubernetes]\ncontexts = ["prod-a", "prod-b"]\nmax_out_of_service = { prod-a = 0.5 }\n'
    (tmp_path / "c.toml").write_text(text)
    inventory = load(tmp_path / "c.toml")
    assert inventory.kubernetes.contexts == ("prod-a", "prod-b")
    assert inventory.kubernetes.cap_for("prod-a", 0.25) == 0.5
    assert inventory.kubernetes.cap_for("prod-b", 0.25) == 0.25
    bad = '[kubernetes]\ncontexts = ["prod-a"]\nmax_out_of_service = 2\n'
    (tmp_path / "c.toml").write_text(bad)
    with pytest.raises(ConfigError, match=r"c.toml:3: kubernetes.max_out_of_service"):
        load(tmp_path / "c.toml")


def test_max_out_of_service_overrides_the_cap_for_one_command_slurm_included() -> None:
    from aiconsole.cli import build_parser
    from aiconsole.cli_actions import policy_from
    from aiconsole.config import Inventory

    parser = build_parser()
    args = parser.parse_args(["drain", "n1", "--slurm", "local", "--max-out-of-service", "0.5"])
    policy = policy_from(args, Inventory())
    assert (policy.max_out_of_service, policy.force) == (0.5, False)
    # Slurm's --force stays a synonym for lifting the cap.
    assert policy_from(parser.parse_args(["drain", "n1", "--force"]), Inventory()).force
    assert policy_from(parser.parse_args(["drain", "n1"]), Inventory()).max_out_of_service == 0.25
    with pytest.raises(SystemExit):
        parser.parse_args(["drain", "n1", "--max-out-of-service", "1.5"])


def test_a_host_that_is_a_kubernetes_node_shows_its_state_and_pods() -> None:
    from aiconsole.kubernetes.hosts import kube_line
    from aiconsole.model import FleetSnapshot

    pods = [
        pod("plugin-a", node="n1", namespace="gpu-operator", owner=DS),
        pod("train-a", node="n1", namespace="ml", owner=JOB, gpus=4),
        pod("elsewhere", node="n2", namespace="ml", owner=JOB, gpus=4),
    ]
    snapshot = FleetSnapshot(generated_at=0.0, kubernetes=(cluster(pods, unschedulable=True),))
    by_name = kube_line({"n1.example.org"}, snapshot)
    head, listed = by_name.splitlines()
    assert head.startswith("Kubernetes test: n1 Ready,SchedulingDisabled, GPUs 4/8 NVIDIA-H100")
    # GPU holders first; another node's pods are not listed.
    assert listed == (
        "pods: ml/train-a (Job, 4 nvidia.com/gpu); gpu-operator/plugin-a (DaemonSet, no GPUs)"
    )
    address = next(n for n in snapshot.kubernetes[0].nodes if n.name == "n2").addresses[0]
    assert kube_line({address}, snapshot).startswith("Kubernetes test: n2 Ready")
    assert kube_line({"login1"}, snapshot) == ""


def test_a_watch_cut_at_once_or_failing_backs_off_and_a_long_one_resumes_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the reflector waits between watches, with the API's answers scripted."""
    import asyncio

    from aiconsole.kubernetes import reflector as module
    from aiconsole.kubernetes.api import ApiError, KubeUnavailable

    class Stop(Exception):
        pass

    class ScriptedApi:
        context = "test"

        def __init__(self, script: list[str]) -> None:
            self.script = script

        async def request(self, *_: Any, **__: Any) -> dict[str, Any]:
            return {"metadata": {"resourceVersion": "7"}, "items": []}

        async def watch(self, *_: Any) -> Any:
            step = self.script.pop(0) if self.script else "stop"
            if step == "stop":
                raise Stop
            if step == "down":
                raise KubeUnavailable("context test: API server down")
            if step == "gone":
                raise ApiError(410, "too old")
            yield {"type": module.OPENED}
            if step == "long":
                clock[0] += 30.0  # the server kept it open 30 s

    clock = [0.0]
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    def run(script: list[str]) -> list[float]:
        sleeps.clear()
        api = ScriptedApi(script)
        watcher: Reflector[Any] = module.Reflector(api, "/api/v1/pods", lambda raw: raw)  # type: ignore[arg-type]

        async def go() -> None:
            loop = asyncio.get_running_loop()
            monkeypatch.setattr(loop, "time", lambda: clock[0])
            with pytest.raises(Stop):
                await watcher.run()

        asyncio.run(go())
        return sleeps

    monkeypatch.setattr(module.asyncio, "sleep", fake_sleep)
    assert run(["long", "long"]) == []  # watches that lasted: resumed at once
    cut = run(["short", "short", "short"])
    assert len(cut) == 3 and cut[0] < cut[1] < cut[2]  # cut at once: growing waits
    assert len(run(["down", "long"])) == 1
    assert len(run(["long", "gone"])) == 1  # a 410 at once: a short wait, then the relist
