"""`Table` responses: what `kubectl get` asks for (`Accept: application/json;as=Table;...`) and
prints column by column. Without them kubectl prints only NAME and AGE."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, int, Callable[[Obj], Any]]  # name, type, priority, cell


def age(obj: Obj) -> str:
    """Elapsed time since creation, in kubectl's short human form (5s, 3m2s, 4h, 2d)."""
    stamp = obj["metadata"].get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    seconds = max(0, int(time.time() - calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _node_status(node: Obj) -> str:
    ready = [c for c in node["status"].get("conditions", []) if c["type"] == "Ready"]
    status = "Ready" if ready and ready[0]["status"] == "True" else "NotReady"
    if not ready:
        status = "Unknown"
    if node["spec"].get("unschedulable"):
        status += ",SchedulingDisabled"
    return status


def _roles(node: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(
        k[len(prefix) :] for k in node["metadata"].get("labels", {}) if k.startswith(prefix)
    )
    return ",".join(roles) or "<none>"


def _address(kind: str) -> Callable[[Obj], str]:
    def read(node: Obj) -> str:
        found = [a["address"] for a in node["status"].get("addresses", []) if a["type"] == kind]
        return found[0] if found else "<none>"

    return read


def _pod_ready(pod: Obj) -> str:
    statuses = pod["status"].get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    return f"{ready}/{len(pod['spec'].get('containers', []))}"


def _pod_status(pod: Obj) -> str:
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for status in pod["status"].get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting")
        if waiting:
            return str(waiting.get("reason", "Waiting"))
    return str(pod["status"].get("reason") or pod["status"].get("phase", "Unknown"))


def _restarts(pod: Obj) -> int:
    return sum(s.get("restartCount", 0) for s in pod["status"].get("containerStatuses") or [])


def _spec(*keys: str, default: str = "N/A") -> Callable[[Obj], Any]:
    def read(obj: Obj) -> Any:
        value: Any = obj
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return default if value is None else value

    return read


NAME: Column = ("Name", "string", 0, lambda obj: obj["metadata"]["name"])
AGE: Column = ("Age", "string", 0, age)
COLUMNS: dict[str, list[Column]] = {
    "Node": [
        NAME,
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, _roles),
        AGE,
        ("Version", "string", 0, _spec("status", "nodeInfo", "kubeletVersion")),
        ("Internal-IP", "string", 1, _address("InternalIP")),
        ("External-IP", "string", 1, _address("ExternalIP")),
        ("OS-Image", "string", 1, _spec("status", "nodeInfo", "osImage")),
        ("Kernel-Version", "string", 1, _spec("status", "nodeInfo", "kernelVersion")),
        ("Container-Runtime", "string", 1, _spec("status", "nodeInfo", "containerRuntimeVersion")),
    ],
    "Pod": [
        NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, _restarts),
        AGE,
        ("IP", "string", 1, _spec("status", "podIP", default="<none>")),
        ("Node", "string", 1, _spec("spec", "nodeName", default="<none>")),
        ("Nominated Node", "string", 1, _spec("status", "nominatedNodeName", default="<none>")),
        ("Readiness Gates", "string", 1, lambda pod: "<none>"),
    ],
    "PodDisruptionBudget": [
        NAME,
        ("Min Available", "string", 0, _spec("spec", "minAvailable")),
        ("Max Unavailable", "string", 0, _spec("spec", "maxUnavailable")),
        ("Allowed Disruptions", "integer", 0, _spec("status", "disruptionsAllowed", default="0")),
        AGE,
    ],
    "Namespace": [NAME, ("Status", "string", 0, _spec("status", "phase")), AGE],
}


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(kind: str, objects: list[Obj], resource_version: str, include: str = "Metadata") -> Obj:
    columns = COLUMNS.get(kind, [NAME, AGE])
    rows = []
    for obj in objects:
        row: Obj = {"cells": [cell(obj) for _, _, _, cell in columns]}
        partial = _row_object(obj, include)
        if partial is not None:
            row["object"] = partial
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": name,
                "type": kind_,
                "format": "name" if name == "Name" else "",
                "description": name,
                "priority": priority,
            }
            for name, kind_, priority, _ in columns
        ],
        "rows": rows,
    }
