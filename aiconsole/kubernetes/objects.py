"""Kubernetes API objects (decoded JSON) -> the snapshot's :class:`KubeNode` / :class:`KubePod`.

Everything a cluster sends is untrusted: a field of the wrong type is treated as absent, and
every string that will be shown passes :func:`aiconsole.text.clean` here, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from aiconsole.kubernetes.constraints import (
    node_affinity_from,
    node_selector_from,
    tolerations_from,
)
from aiconsole.model import KubeNode, KubePod
from aiconsole.text import clean

GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
MIG_PREFIX = "nvidia.com/mig-"
PRODUCT_LABELS = ("nvidia.com/gpu.product", "amd.com/gpu.product-name", "amd.com/gpu.device-id")
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
REASON_ANNOTATION = "aiconsole/reason"
"""Set on a node cordoned or drained with ``--reason``; ``kubectl describe node`` shows it."""
NAME_LIMIT = 253
FINISHED = ("Succeeded", "Failed")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any, limit: int = NAME_LIMIT) -> str | None:
    return clean(value, limit) if isinstance(value, str) else None


def _strings(value: Any, limit: int = 256) -> dict[str, str]:
    return {
        clean(k, limit): clean(v, limit)
        for k, v in _dict(value).items()
        if isinstance(k, str) and isinstance(v, str)
    }


def is_gpu_resource(name: str) -> bool:
    return name in GPU_RESOURCES or name.startswith(MIG_PREFIX)


def quantity(value: Any) -> int | None:
    """A whole-device count (``"8"``); GPUs are never fractional, anything else is ignored."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 10:
        return int(value)
    return None


def gpu_resources(resources: Any) -> dict[str, int]:
    found = {}
    for name, value in _dict(resources).items():
        count = quantity(value)
        if isinstance(name, str) and is_gpu_resource(name) and count:
            found[clean(name, 64)] = count
    return found


def timestamp(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def node_from(raw: Any) -> KubeNode | None:
    """None for an object without a usable name (nothing could act on it)."""
    obj = _dict(raw)
    meta, spec, status = (
        _dict(obj.get("metadata")),
        _dict(obj.get("spec")),
        _dict(obj.get("status")),
    )
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return None
    conditions: dict[str, str] = {}
    problems: list[str] = []
    for condition in _list(status.get("conditions")):
        condition = _dict(condition)
        kind, state = _str(condition.get("type"), 64), _str(condition.get("status"), 16)
        if kind is None or state is None:
            continue
        conditions[kind] = state
        bad = state != "True" if kind == "Ready" else state == "True"
        if bad:
            message = _str(condition.get("message"), 300) or _str(condition.get("reason")) or ""
            problems.append(f"{kind}={state}" + (f": {message}" if message else ""))
    ready = {"True": True, "False": False}.get(conditions.get("Ready", ""))
    unschedulable = spec.get("unschedulable") is True
    summary = "Unknown" if ready is None else ("Ready" if ready else "NotReady")
    if unschedulable:
        summary += ",SchedulingDisabled"
    taints = []
    for taint in _list(spec.get("taints")):
        taint = _dict(taint)
        key, value, effect = taint.get("key"), taint.get("value"), taint.get("effect")
        if isinstance(key, str):
            text = key + (f"={value}" if isinstance(value, str) and value else "")
            taints.append(clean(text + (f":{effect}" if isinstance(effect, str) else ""), 300))
    labels = _strings(meta.get("labels"))
    addresses = tuple(
        clean(address["address"], 256)
        for address in map(_dict, _list(status.get("addresses")))
        if isinstance(address.get("address"), str)
    )
    product = next((labels[key] for key in PRODUCT_LABELS if key in labels), None)
    annotations = _dict(meta.get("annotations"))
    return KubeNode(
        name=clean(name, NAME_LIMIT),
        summary=summary,
        ready=ready,
        conditions=conditions,
        problems=tuple(problems),
        unschedulable=unschedulable,
        taints=tuple(taints),
        labels=labels,
        addresses=addresses,
        gpu_product=product,
        gpu_capacity=gpu_resources(status.get("capacity")),
        gpu_allocatable=gpu_resources(status.get("allocatable")),
        reason=_str(annotations.get(REASON_ANNOTATION), 500),
    )


def _controller(meta: dict[str, Any]) -> dict[str, Any] | None:
    for owner in _list(meta.get("ownerReferences")):
        owner = _dict(owner)
        if owner.get("controller") is True:
            return owner
    return None


def _pod_gpus(spec: dict[str, Any]) -> dict[str, int]:
    """Effective request, as the scheduler counts it: the larger of the containers' sum
    and the largest init container (init containers run one at a time, before the rest)."""
    total: dict[str, int] = {}
    for container in map(_dict, _list(spec.get("containers"))):
        resources = _dict(container.get("resources"))
        # An extended resource given only as a limit is requested at that limit.
        wanted = gpu_resources(resources.get("limits")) | gpu_resources(resources.get("requests"))
        for name, count in wanted.items():
            total[name] = total.get(name, 0) + count
    for container in map(_dict, _list(spec.get("initContainers"))):
        resources = _dict(container.get("resources"))
        wanted = gpu_resources(resources.get("limits")) | gpu_resources(resources.get("requests"))
        for name, count in wanted.items():
            total[name] = max(total.get(name, 0), count)
    return total


def _pending_reason(status: dict[str, Any], phase: str) -> str | None:
    if phase in ("Running", *FINISHED):
        return _str(status.get("reason"), 300) if phase == "Failed" else None
    for condition in map(_dict, _list(status.get("conditions"))):
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            reason = _str(condition.get("reason"), 64) or "Unschedulable"
            message = _str(condition.get("message"), 500)
            return f"{reason}: {message}" if message else reason
    for container in map(_dict, _list(status.get("containerStatuses"))):
        waiting = _dict(_dict(container.get("state")).get("waiting"))
        why = _str(waiting.get("reason"), 64)
        if why:
            detail = _str(waiting.get("message"), 300)
            return f"{why}: {detail}" if detail else why
    return _str(status.get("reason"), 300)


def pod_from(raw: Any) -> KubePod | None:
    obj = _dict(raw)
    meta, spec, status = (
        _dict(obj.get("metadata")),
        _dict(obj.get("spec")),
        _dict(obj.get("status")),
    )
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not isinstance(namespace, str) or not name:
        return None
    phase = _str(status.get("phase"), 32) or "Unknown"
    owner = _controller(meta)
    restarts = sum(
        count
        for container in map(_dict, _list(status.get("containerStatuses")))
        if isinstance(count := container.get("restartCount"), int) and count > 0
    )
    volumes = tuple(
        clean(volume["name"], 64)
        for volume in map(_dict, _list(spec.get("volumes")))
        if "emptyDir" in volume and isinstance(volume.get("name"), str)
    )
    node = spec.get("nodeName")
    return KubePod(
        namespace=clean(namespace, 63),
        name=clean(name, NAME_LIMIT),
        uid=_str(meta.get("uid"), 64) or "",
        node=clean(node, NAME_LIMIT) if isinstance(node, str) and node else None,
        phase=phase,
        owner_kind=_str(owner.get("kind"), 64) if owner else None,
        owner_name=_str(owner.get("name")) if owner else None,
        owner_uid=_str(owner.get("uid"), 64) if owner else None,
        gpus=_pod_gpus(spec),
        restarts=restarts,
        created_at=timestamp(meta.get("creationTimestamp")),
        pending_reason=_pending_reason(status, phase),
        labels=_strings(meta.get("labels")),
        mirror=MIRROR_ANNOTATION in _dict(meta.get("annotations")),
        empty_dir_volumes=volumes,
        deleting=meta.get("deletionTimestamp") is not None,
        tolerations=tolerations_from(spec),
        node_selector=node_selector_from(spec),
        node_affinity=node_affinity_from(spec),
    )


def with_requests(nodes: list[KubeNode], pods: list[KubePod]) -> list[KubeNode]:
    """Fill each node's ``gpu_requested`` from the pods bound to it that still hold GPUs."""
    requested: dict[str, dict[str, int]] = {}
    for pod in pods:
        if pod.node is None or not pod.gpus or pod.phase in FINISHED:
            continue
        held = requested.setdefault(pod.node, {})
        for name, count in pod.gpus.items():
            held[name] = held.get(name, 0) + count
    return [
        node if node.name not in requested else _replace_requested(node, requested[node.name])
        for node in nodes
    ]


def _replace_requested(node: KubeNode, requested: dict[str, int]) -> KubeNode:
    return msgspec.structs.replace(node, gpu_requested=requested)
