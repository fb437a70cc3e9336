"""Builders of complete objects (the official client refuses ones that lack required fields,
such as a node's `nodeInfo.bootID` or a Job's `template`)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

Obj = dict[str, Any]
GPU = "nvidia.com/gpu"
STARTED = "2026-01-01T00:00:00Z"


def _ip(name: str, prefix: str) -> str:
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


def namespace(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def node(
    name: str,
    *,
    gpus: int = 8,
    product: str = "NVIDIA-H100-80GB-HBM3",
    labels: dict[str, str] | None = None,
    ready: bool = True,
    unschedulable: bool = False,
) -> Obj:
    resources = {
        "cpu": "96",
        "memory": "1056Gi",
        "pods": "110",
        "ephemeral-storage": "3800Gi",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    }
    node_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
    }
    if gpus:
        resources[GPU] = str(gpus)
        node_labels.update({"nvidia.com/gpu.product": product, "nvidia.com/gpu.count": str(gpus)})
    node_labels.update(labels or {})
    spec: Obj = {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]}
    if unschedulable:
        spec["unschedulable"] = True

    def condition(kind: str, status: bool, reason: str, message: str) -> Obj:
        return {
            "type": kind,
            "status": "True" if status else "False",
            "lastHeartbeatTime": STARTED,
            "lastTransitionTime": STARTED,
            "reason": reason,
            "message": message,
        }

    seed = uuid.uuid5(uuid.NAMESPACE_DNS, name)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": node_labels, "annotations": {}},
        "spec": spec,
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": [
                condition("MemoryPressure", False, "KubeletHasSufficientMemory", "ok"),
                condition("DiskPressure", False, "KubeletHasNoDiskPressure", "ok"),
                condition("PIDPressure", False, "KubeletHasSufficientPID", "ok"),
                condition(
                    "Ready",
                    ready,
                    "KubeletReady" if ready else "NodeStatusUnknown",
                    "kubelet is posting ready status" if ready else "Kubelet stopped posting",
                ),
            ],
            "addresses": [
                {"type": "InternalIP", "address": _ip(name, "10.0")},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": str(uuid.uuid5(seed, "boot")),
                "containerRuntimeVersion": "containerd://1.7.24",
                "kernelVersion": "6.8.0-48-generic",
                "kubeProxyVersion": "v1.32.0",
                "kubeletVersion": "v1.32.0",
                "machineID": seed.hex,
                "operatingSystem": "linux",
                "osImage": "Ubuntu 22.04.5 LTS",
                "systemUUID": str(seed),
            },
            "images": [],
        },
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
    ip = _ip(name, "10.244")
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
        "hostIP": _ip(node, "10.0"),
        "hostIPs": [{"ip": _ip(node, "10.0")}],
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


def _workload(kind: str, api: str, name: str, namespace: str, labels: dict[str, str]) -> Obj:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
    }


def daemonset(
    name: str, labels: dict[str, str], *, namespace: str = "default", nodes: int = 1
) -> Obj:
    obj = _workload("DaemonSet", "apps/v1", name, namespace, labels)
    obj["spec"] = {
        "selector": {"matchLabels": dict(labels)},
        "template": template(labels),
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "revisionHistoryLimit": 10,
    }
    obj["status"] = {
        "currentNumberScheduled": nodes,
        "desiredNumberScheduled": nodes,
        "numberMisscheduled": 0,
        "numberReady": nodes,
        "numberAvailable": nodes,
        "updatedNumberScheduled": nodes,
        "observedGeneration": 1,
    }
    return obj


def deployment(
    name: str,
    labels: dict[str, str],
    *,
    namespace: str = "default",
    replicas: int = 1,
    gpus: int = 0,
) -> Obj:
    obj = _workload("Deployment", "apps/v1", name, namespace, labels)
    obj["spec"] = {
        "replicas": replicas,
        "selector": {"matchLabels": dict(labels)},
        "template": template(labels, gpus=gpus),
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
        },
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    }
    obj["status"] = {
        "replicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "updatedReplicas": replicas,
        "observedGeneration": 1,
    }
    return obj


def replicaset(
    name: str,
    labels: dict[str, str],
    *,
    namespace: str = "default",
    owner: Obj | None = None,
    replicas: int = 1,
    gpus: int = 0,
) -> Obj:
    obj = _workload("ReplicaSet", "apps/v1", name, namespace, labels)
    if owner is not None:
        obj["metadata"]["ownerReferences"] = [owner_ref(owner)]
    obj["spec"] = {
        "replicas": replicas,
        "selector": {"matchLabels": dict(labels)},
        "template": template(labels, gpus=gpus),
    }
    obj["status"] = {
        "replicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "fullyLabeledReplicas": replicas,
        "observedGeneration": 1,
    }
    return obj


def statefulset(
    name: str,
    labels: dict[str, str],
    *,
    namespace: str = "default",
    replicas: int = 1,
    gpus: int = 0,
) -> Obj:
    obj = _workload("StatefulSet", "apps/v1", name, namespace, labels)
    obj["spec"] = {
        "replicas": replicas,
        "serviceName": name,
        "selector": {"matchLabels": dict(labels)},
        "template": template(labels, gpus=gpus),
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate"},
    }
    obj["status"] = {
        "replicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "currentReplicas": replicas,
        "updatedReplicas": replicas,
        "observedGeneration": 1,
    }
    return obj


def job(name: str, labels: dict[str, str], *, namespace: str = "default", gpus: int = 0) -> Obj:
    obj = _workload("Job", "batch/v1", name, namespace, labels)
    obj["spec"] = {
        "parallelism": 1,
        "completions": 1,
        "backoffLimit": 6,
        "completionMode": "NonIndexed",
        "suspend": False,
        "template": template(labels, gpus=gpus, restart="Never"),
    }
    obj["status"] = {"active": 1, "startTime": STARTED}
    return obj


def pdb(
    name: str,
    labels: dict[str, str],
    *,
    namespace: str = "default",
    min_available: int | str | None = None,
    max_unavailable: int | str | None = None,
) -> Obj:
    spec: Obj = {"selector": {"matchLabels": dict(labels)}}
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    else:
        spec["minAvailable"] = 1 if min_available is None else min_available
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
