"""Where a pod may run: tolerations, nodeSelector and required node affinity as read from a
pod's spec and checked against a node, as the scheduler's hard filters do."""

from __future__ import annotations

from typing import Any

from aiconsole.kubernetes.constraints import parse_taint, why_not_on
from aiconsole.kubernetes.objects import node_from, pod_from
from aiconsole.model import KubeNode, KubePod


def pod(**spec: Any) -> KubePod:
    raw = {
        "metadata": {"name": "p", "namespace": "ml", "uid": "u1"},
        "spec": {"containers": [{"name": "main"}], **spec},
        "status": {"phase": "Running"},
    }
    found = pod_from(raw)
    assert found is not None
    return found


def node(taints: list[dict[str, str]] = [], **labels: str) -> KubeNode:  # noqa: B006
    raw = {
        "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1", **labels}},
        "spec": {"taints": taints},
    }
    found = node_from(raw)
    assert found is not None
    return found


GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def test_taints_are_parsed_back_from_kubectls_form() -> None:
    assert parse_taint("nvidia.com/gpu=present:NoSchedule") == (
        "nvidia.com/gpu",
        "present",
        "NoSchedule",
    )
    assert parse_taint("dedicated:NoExecute") == ("dedicated", None, "NoExecute")


def test_tolerations_match_as_the_scheduler_matches_them() -> None:
    tainted = node([GPU_TAINT])
    assert why_not_on(pod(), tainted) == "taint nvidia.com/gpu=present:NoSchedule not tolerated"
    equal = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present"}
    assert why_not_on(pod(tolerations=[equal]), tainted) is None
    wrong_value = {**equal, "value": "absent"}
    assert why_not_on(pod(tolerations=[wrong_value]), tainted) is not None
    wrong_effect = {**equal, "effect": "NoExecute"}
    assert why_not_on(pod(tolerations=[wrong_effect]), tainted) is not None
    assert why_not_on(pod(tolerations=[{"operator": "Exists"}]), tainted) is None
    exists = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    assert why_not_on(pod(tolerations=[exists]), tainted) is None
    soft = node([{**GPU_TAINT, "effect": "PreferNoSchedule"}])
    assert why_not_on(pod(), soft) is None


def test_node_selector_and_required_affinity() -> None:
    labelled = node(pool="a100", zone="b")
    assert why_not_on(pod(nodeSelector={"pool": "a100"}), labelled) is None
    assert why_not_on(pod(nodeSelector={"pool": "h100"}), labelled) == (
        "nodeSelector pool=h100 not met"
    )

    def affinity(*terms: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": t} for t in terms]
                }
            }
        }

    zone_a = [{"key": "zone", "operator": "In", "values": ["a"]}]
    zone_b = [{"key": "zone", "operator": "In", "values": ["b"]}]
    assert why_not_on(pod(affinity=affinity(zone_a)), labelled) == "required node affinity not met"
    assert why_not_on(pod(affinity=affinity(zone_a, zone_b)), labelled) is None  # terms: OR
    both = [*zone_b, {"key": "pool", "operator": "NotIn", "values": ["a100"]}]
    assert why_not_on(pod(affinity=affinity(both)), labelled) is not None  # expressions: AND
    assert why_not_on(pod(affinity=affinity([])), labelled) is not None  # empty term: none
    gt = [{"key": "gpus", "operator": "Gt", "values": ["4"]}]
    assert why_not_on(pod(affinity=affinity(gt)), node(gpus="8")) is None
    assert why_not_on(pod(affinity=affinity(gt)), node(gpus="2")) is not None
    odd = [{"key": "zone", "operator": "Near", "values": ["b"]}]
    assert why_not_on(pod(affinity=affinity(odd)), labelled) is not None  # unknown: unmet
