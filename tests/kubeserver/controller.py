"""The controllers a drain relies on: a deleted pod owned by a Job, ReplicaSet or StatefulSet
comes back (new UID; a new name except for a StatefulSet), scheduled onto a schedulable node
with room for its GPUs whose taints it tolerates and whose labels meet its nodeSelector and
required node affinity, or Pending when none fits. DaemonSet and bare pods do not."""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING, Any

from tests.kubeserver.errors import ApiError
from tests.kubeserver.objects import GPU, pod_status
from tests.kubeserver.resources import BY_KIND

if TYPE_CHECKING:
    from tests.kubeserver.state import KubeState

Obj = dict[str, Any]
RECREATING_KINDS = ("Job", "ReplicaSet", "StatefulSet")


def _controller_of(pod: Obj) -> Obj | None:
    for reference in pod["metadata"].get("ownerReferences") or []:
        if reference.get("controller"):
            return dict(reference)
    return None


def gpu_request(pod: Obj) -> int:
    return sum(
        int((c.get("resources", {}).get("requests") or {}).get(GPU, 0))
        for c in pod["spec"].get("containers", [])
    )


def _tolerated(taint: Obj, tolerations: list[Obj]) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists":
            if not toleration.get("key") or toleration["key"] == taint.get("key"):
                return True
        elif toleration.get("key") == taint.get("key") and (toleration.get("value") or "") == (
            taint.get("value") or ""
        ):
            return True
    return False


def _term_met(term: Obj, labels: dict[str, str]) -> bool:
    expressions = term.get("matchExpressions") or []
    if not expressions:
        return False  # an empty term selects no node
    for expression in expressions:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def fits(pod: Obj, node: Obj) -> bool:
    """The scheduler's hard filters on a pod's spec: taints with effect NoSchedule or
    NoExecute must be tolerated, nodeSelector labels present, required node affinity met."""
    spec, labels = pod["spec"], node["metadata"].get("labels") or {}
    for taint in node["spec"].get("taints") or []:
        hard = taint.get("effect") in ("NoSchedule", "NoExecute")
        if hard and not _tolerated(taint, spec.get("tolerations") or []):
            return False
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (
        (spec.get("affinity") or {})
        .get("nodeAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    if required:
        return any(_term_met(term, labels) for term in required.get("nodeSelectorTerms") or [])
    return True


def _pick_node(state: KubeState, pod: Obj) -> str | None:
    """The schedulable, Ready node that the pod fits (taints, nodeSelector, required node
    affinity) with room for its GPUs, running the fewest pods."""
    gpus = gpu_request(pod)
    nodes, _ = state.list("nodes")
    pods, _ = state.list("pods")
    active = [p for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed")]
    candidates = []
    for node in nodes:
        name = node["metadata"]["name"]
        ready = any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in node["status"].get("conditions", [])
        )
        if node["spec"].get("unschedulable") or not ready or not fits(pod, node):
            continue
        here = [p for p in active if p["spec"].get("nodeName") == name]
        free = int(node["status"]["allocatable"].get(GPU, 0)) - sum(map(gpu_request, here))
        if free >= gpus:
            candidates.append((len(here), name))
    return min(candidates)[1] if candidates else None


def replace_pod(state: KubeState, deleted: Obj) -> Obj | None:
    """Create the replacement of a deleted pod, as its owner's controller would."""
    owner = _controller_of(deleted)
    if owner is None or owner.get("kind") not in RECREATING_KINDS:
        return None
    namespace = deleted["metadata"]["namespace"]
    try:
        stored = state.get(BY_KIND[owner["kind"]].plural, namespace, owner["name"])
    except ApiError:  # the owner is gone: nothing recreates its pods
        return None
    if stored["metadata"]["uid"] != owner["uid"]:
        return None
    replacement = copy.deepcopy(deleted)
    meta = replacement["metadata"]
    for transient in (
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ):
        meta.pop(transient, None)
    if owner["kind"] != "StatefulSet":
        meta["name"] = f"{owner['name']}-{uuid.uuid4().hex[:5]}"
    node = _pick_node(state, deleted)
    spec = replacement["spec"]
    spec.pop("nodeName", None)
    if node:
        spec["nodeName"] = node
    replacement["status"] = pod_status(meta["name"], node, "Running")
    return state.create("pods", replacement)
