"""Builders of complete pods and pod templates (the official client refuses objects that lack
required fields)."""

from __future__ import annotations

import hashlib
from typing import Any

Obj = dict[str, Any]
GPU = "nvidia.com/gpu"
STARTED = "2026-01-01T00:00:00Z"


def address(name: str, prefix: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return f"{prefix}.{digest[0]}.{digest[1] % 254 + 1}"


def owner_ref(owner: Obj) -> Obj:
    """The controller ownerReference to a stored object (one that has its uid)."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def container(name: str = "main", *, gpus: int = 0, image: str = "busybox:1.36") -> Obj:
    requests: Obj = {"cpu": "100m", "memory": "128Mi"}
    limits: Obj = {}
    if gpus:
        requests[GPU] = str(gpus)
        limits[GPU] = str(gpus)
    return {
        "name": name,
        "image": image,
        "command": ["sleep", "infinity"],
        "resources": {"requests": requests, "limits": limits},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }


def pod_spec(*, gpus: int = 0, emptydir: bool = False, restart: str = "Always") -> Obj:
    main = container(gpus=gpus)
    spec: Obj = {
        "containers": [main],
        "restartPolicy": restart,
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "enableServiceLinks": True,
        "priority": 0,
        "preemptionPolicy": "PreemptLowerPriority",
        "tolerations": [
            {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
        ],
    }
    if emptydir:
        spec["volumes"] = [{"name": "scratch", "emptyDir": {}}]
        main["volumeMounts"] = [{"name": "scratch", "mountPath": "/scratch"}]
    return spec


def template(labels: dict[str, str], **spec: Any) -> Obj:
    return {"metadata": {"labels": dict(labels)}, "spec": pod_spec(**spec)}


def pod(
    name: str,
    *,
    node: str | None,
    namespace: str = "default",
    owner: Obj | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    gpus: int = 0,
    emptydir: bool = False,
    phase: str = "Running",
    restart: str = "Always",
) -> Obj:
    """A pod; `owner` is the stored controller object (a controller ownerReference to it)."""
    spec = pod_spec(gpus=gpus, emptydir=emptydir, restart=restart)
    metadata: Obj = {
        "name": name,
        "namespace": namespace,
        "labels": dict(labels or {}),
        "annotations": dict(annotations or {}),
    }
    if owner is not None:
        metadata["ownerReferences"] = [
            owner if "uid" in owner and "metadata" not in owner else owner_ref(owner)
        ]
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": pod_status(name, node, phase, gpus),
    }


def pod_status(name: str, node: str | None, phase: str, gpus: int = 0) -> Obj:
    if not node:
        return {
            "phase": "Pending",
            "qosClass": "Burstable",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/0 nodes are available",
                    "lastTransitionTime": STARTED,
                }
            ],
        }
    running = phase == "Running"
    ip = address(name, "10.244")
    state: Obj = (
        {"running": {"startedAt": STARTED}}
        if running
        else {
            "terminated": {
                "exitCode": 0 if phase == "Succeeded" else 1,
                "reason": "Completed",
                "startedAt": STARTED,
                "finishedAt": STARTED,
            }
        }
    )
    return {
        "phase": phase,
        "hostIP": address(node, "10.0"),
        "hostIPs": [{"ip": address(node, "10.0")}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": STARTED,
        "qosClass": "Burstable",
        "conditions": [
            {
                "type": kind,
                "status": "True" if running or kind == "PodScheduled" else "False",
                "lastTransitionTime": STARTED,
            }
            for kind in (
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
            )
        ],
        "containerStatuses": [
            {
                "name": "main",
                "image": "docker.io/library/busybox:1.36",
                "imageID": "docker.io/library/busybox@sha256:" + "0" * 64,
                "containerID": "containerd://" + hashlib.sha256(name.encode()).hexdigest(),
                "ready": running,
                "started": running,
                "restartCount": 0,
                "state": state,
            }
        ],
    }
