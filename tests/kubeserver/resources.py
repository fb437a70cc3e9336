"""The resource types the test API server serves, and the discovery documents built from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

READ_VERBS = ["get", "list", "watch"]
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    has_status: bool = True

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def base_path(self, namespace: str | None) -> str:
        prefix = f"/apis/{self.group_version}" if self.group else "/api/v1"
        if self.namespaced and namespace:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"


RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", False, ("ns",)),
    Resource("", "v1", "nodes", "Node", False, ("no",)),
    Resource("", "v1", "pods", "Pod", True, ("po",)),
    Resource("", "v1", "events", "Event", True, ("ev",), has_status=False),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",)),
    Resource("apps", "v1", "deployments", "Deployment", True, ("deploy",)),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",)),
    Resource("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",)),
    Resource("batch", "v1", "jobs", "Job", True),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",)),
]
BY_PLURAL = {resource.plural: resource for resource in RESOURCES}
BY_KIND = {resource.kind: resource for resource in RESOURCES}
GROUPS = ["apps", "batch", "policy"]


def find(group: str, version: str, plural: str) -> Resource | None:
    resource = BY_PLURAL.get(plural)
    if resource is None or resource.group != group or resource.version != version:
        return None
    return resource


def _entry(resource: Resource) -> Obj:
    entry: Obj = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": ALL_VERBS,
        # Opaque to clients; real servers publish a hash of the resource's schema.
        "storageVersionHash": resource.kind[:4] + "AAAAAAA=",
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.kind in ("Pod", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet", "Job"):
        entry["categories"] = ["all"]
    return entry


def _subresource(resource: Resource, name: str, kind: str, verbs: list[str]) -> Obj:
    return {
        "name": f"{resource.plural}/{name}",
        "singularName": "",
        "namespaced": resource.namespaced,
        "kind": kind,
        "verbs": verbs,
    }


def resource_list(group: str, version: str) -> Obj | None:
    """The APIResourceList of one group/version (what `/api/v1` or `/apis/apps/v1` returns)."""
    members = [r for r in RESOURCES if r.group == group and r.version == version]
    if not members:
        return None
    entries: list[Obj] = []
    for resource in members:
        entries.append(_entry(resource))
        if resource.has_status:
            entries.append(
                _subresource(resource, "status", resource.kind, ["get", "patch", "update"])
            )
        if resource.kind == "Pod":
            # kubectl drain looks for exactly this entry to decide it may use evictions.
            eviction = _subresource(resource, "eviction", "Eviction", ["create"])
            eviction.update(group="policy", version="v1")
            entries.append(eviction)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }


def core_versions() -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def group_document(group: str) -> Obj:
    version = {"groupVersion": f"{group}/v1", "version": "v1"}
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": [version],
        "preferredVersion": version,
    }


def group_list() -> Obj:
    groups = []
    for group in GROUPS:
        document = group_document(group)
        del document["kind"], document["apiVersion"]
        groups.append(document)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
