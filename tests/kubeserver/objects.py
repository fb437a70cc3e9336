"""Builders of complete objects (the official client refuses ones that lack required fields,
such as a node's `nodeInfo.bootID` or a Job's `template`). Pods come from `pods.py`."""

from __future__ import annotations

import uuid
from typing import Any

from tests.kubeserver.pods import (
    GPU,
    STARTED,
    address,
    container,
    owner_ref,
    pod,
    pod_spec,
    pod_status,
    template,
)

Obj = dict[str, Any]
__all__ = [
    "GPU",
    "STARTED",
    "container",
    "daemonset",
    "deployment",
    "job",
    "namespace",
    "node",
    "owner_ref",
    "pdb",
    "pod",
    "pod_spec",
    "pod_status",
    "replicaset",
    "statefulset",
    "template",
]


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
                {"type": "InternalIP", "address": address(name, "10.0")},
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
