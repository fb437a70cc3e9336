"""The cluster state behind the test API server: objects, a resourceVersion counter, the
change history watches read (and that tests compact to force 410 Gone), evictions and PDBs."""

from __future__ import annotations

import builtins
import copy
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.kubeserver import budgets, errors, patching
from tests.kubeserver.budgets import now
from tests.kubeserver.logs import PodLogs
from tests.kubeserver.resources import BY_KIND, BY_PLURAL, Resource

Obj = dict[str, Any]
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


@dataclass(frozen=True)
class Change:
    """One entry of the history: what a watch from an older resourceVersion replays."""

    resource_version: int
    plural: str
    type: str  # ADDED, MODIFIED, DELETED
    object: Obj
    previous: Obj | None


@dataclass
class PdbRelease:
    """Let a PDB allow `allowed` disruptions once it has refused `after` evictions."""

    after: int
    allowed: int
    refused: int = 0


@dataclass
class KubeState:
    """Thread-safe cluster state. `controller`: recreate deleted pods owned by a Job,
    ReplicaSet or StatefulSet. `deletion_delay`: seconds a deleted pod stays Terminating
    (with a deletionTimestamp) before it vanishes, when its grace period is not zero.
    Watches that allow bookmarks get one when they end, and every `bookmark_interval` s."""

    controller: bool = True
    deletion_delay: float = 0.0
    bookmark_interval: float = 0.0  # > 0: watches that allow bookmarks get one this often
    evicted: list[tuple[str, str]] = field(default_factory=list)
    eviction_refusals: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.closed = False
        self._version = 1000
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {p: {} for p in BY_PLURAL}
        self._history: list[Change] = []
        self._compacted = 0
        self._releases: dict[tuple[str, str], PdbRelease] = {}
        self.logs = PodLogs()
        """Container logs the ``log`` subresource serves (tests write them)."""

    # ---- reading -------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._version

    def get(self, plural: str, namespace: str, name: str) -> Obj:
        with self.lock:
            return copy.deepcopy(self._require(plural, namespace, name))

    def list(self, plural: str, namespace: str | None = None) -> tuple[builtins.list[Obj], int]:
        """Objects (all namespaces when `namespace` is None), sorted, and the list's version."""
        with self.lock:
            items = [
                copy.deepcopy(obj)
                for (space, _), obj in sorted(self._objects[plural].items())
                if namespace is None or space == namespace
            ]
            return items, self._version

    def pods_on(self, node: str) -> builtins.list[Obj]:
        return [p for p in self.list("pods")[0] if p["spec"].get("nodeName") == node]

    def changes_after(self, resource_version: int, timeout: float) -> builtins.list[Change]:
        """Changes newer than `resource_version`, waiting up to `timeout` s for the first one.
        Raises 410 Gone when the history no longer reaches back that far."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                if resource_version < self._compacted:
                    raise errors.gone(resource_version, self._compacted)
                fresh = [c for c in self._history if c.resource_version > resource_version]
                remaining = deadline - time.monotonic()
                if fresh or self.closed or remaining <= 0:
                    return fresh
                self.changed.wait(remaining)

    def check_version(self, resource_version: int) -> None:
        with self.lock:
            if resource_version < self._compacted:
                raise errors.gone(resource_version, self._compacted)

    # ---- writing -------------------------------------------------------------------------

    def add(self, obj: Obj) -> Obj:
        """Create an object of any served kind (as a test builds its cluster)."""
        return self.create(BY_KIND[obj["kind"]].plural, obj)

    def create(self, plural: str, obj: Obj, namespace: str | None = None) -> Obj:
        resource = BY_PLURAL[plural]
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        with self.lock:
            if resource.namespaced:
                meta["namespace"] = namespace or meta.get("namespace") or "default"
            else:
                meta.pop("namespace", None)
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            if not meta.get("name"):
                raise errors.invalid(f"{resource.kind} is invalid: metadata.name: Required value")
            key = (meta.get("namespace", ""), meta["name"])
            if key in self._objects[plural]:
                raise errors.already_exists(plural, meta["name"], resource.group)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = meta.get("creationTimestamp") or now()
            meta["generation"] = 1
            meta.pop("deletionTimestamp", None)
            obj["kind"], obj["apiVersion"] = resource.kind, resource.group_version
            if plural == "poddisruptionbudgets" and "status" not in obj:
                obj["status"] = budgets.status(obj, self._objects["pods"].values())
            self._store(resource, key, obj, "ADDED", None)
            return copy.deepcopy(obj)

    def replace(
        self, plural: str, namespace: str, name: str, obj: Obj, subresource: str = ""
    ) -> Obj:
        with self.lock:
            current = self._require(plural, namespace, name)
            wanted = obj.get("metadata", {}).get("resourceVersion")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise errors.conflict(plural, name, BY_PLURAL[plural].group)
            return self._update(plural, current, copy.deepcopy(obj), subresource)

    def patch(
        self,
        plural: str,
        namespace: str,
        name: str,
        content_type: str,
        body: Any,
        subresource: str = "",
    ) -> Obj:
        with self.lock:
            current = self._require(plural, namespace, name)
            try:
                patched = patching.apply(content_type, current, body)
            except patching.PatchError as error:
                raise errors.invalid(str(error)) from error
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch did not produce an object")
            return self._update(plural, current, patched, subresource)

    def delete(
        self, plural: str, namespace: str, name: str, grace_seconds: int | None = None
    ) -> Obj:
        with self.lock:
            current = self._require(plural, namespace, name)
            if plural == "pods" and self.deletion_delay > 0 and grace_seconds != 0:
                if not current["metadata"].get("deletionTimestamp"):
                    terminating = copy.deepcopy(current)
                    terminating["metadata"]["deletionTimestamp"] = now()
                    default = current["spec"].get("terminationGracePeriodSeconds", 30)
                    terminating["metadata"]["deletionGracePeriodSeconds"] = (
                        grace_seconds
                        if grace_seconds is not None and grace_seconds > 0
                        else default
                    )
                    uid = current["metadata"]["uid"]
                    self._store(
                        BY_PLURAL[plural], (namespace, name), terminating, "MODIFIED", current
                    )
                    timer = threading.Timer(
                        self.deletion_delay, self._finish, (namespace, name, uid)
                    )
                    timer.daemon = True
                    timer.start()
                return copy.deepcopy(self._objects[plural][(namespace, name)])
            return self._remove(plural, namespace, name)

    def _finish(self, namespace: str, name: str, uid: str) -> None:
        with self.lock:
            pod = self._objects["pods"].get((namespace, name))
            if pod is None or self.closed:
                return
            if pod["metadata"].get("deletionTimestamp") and pod["metadata"]["uid"] == uid:
                self._remove("pods", namespace, name)

    def _remove(self, plural: str, namespace: str, name: str) -> Obj:
        resource = BY_PLURAL[plural]
        key = (namespace if resource.namespaced else "", name)
        gone = self._objects[plural].pop(key)
        last = copy.deepcopy(gone)
        self._version += 1
        last["metadata"]["resourceVersion"] = str(self._version)
        self._history.append(Change(self._version, plural, "DELETED", last, gone))
        self.changed.notify_all()
        if plural == "pods" and self.controller:
            from tests.kubeserver.controller import replace_pod

            replace_pod(self, last)
        return copy.deepcopy(last)

    # ---- evictions and PDBs ----------------------------------------------------------------

    def evict(self, namespace: str, name: str, body: Obj) -> Obj:
        """The policy/v1 Eviction subresource, with the real server's PDB checks."""
        with self.lock:
            pod = self._require("pods", namespace, name)
            if not budgets.can_ignore(pod):
                covering = budgets.covering(pod, self._objects["poddisruptionbudgets"].values())
                if len(covering) > 1:
                    raise errors.ApiError(
                        500,
                        "InternalError",
                        "This pod has more than one PodDisruptionBudget, which the eviction "
                        "subresource does not support.",
                    )
                if covering and not budgets.unhealthy_may_go(covering[0], pod):
                    self._spend_disruption(covering[0], namespace, name)
            self.evicted.append((namespace, name))
            grace = (body.get("deleteOptions") or {}).get("gracePeriodSeconds")
            self.delete("pods", namespace, name, grace)
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "code": 201,
            }

    def _spend_disruption(self, pdb: Obj, namespace: str, pod_name: str) -> None:
        pdb_name = pdb["metadata"]["name"]
        if pdb["status"].get("disruptionsAllowed", 0) <= 0:
            self.eviction_refusals.append((namespace, pod_name))
            refusal = errors.pdb_blocks(pdb)
            release = self._releases.get((namespace, pdb_name))
            if release is not None:
                release.refused += 1
                if release.refused >= release.after:
                    del self._releases[(namespace, pdb_name)]
                    self.set_disruptions_allowed(namespace, pdb_name, release.allowed)
            raise refusal
        status = copy.deepcopy(pdb["status"])
        status["disruptionsAllowed"] -= 1
        status.setdefault("disruptedPods", {})[pod_name] = now()
        self._set_pdb_status(namespace, pdb_name, status)

    def set_disruptions_allowed(self, namespace: str, name: str, allowed: int) -> Obj:
        """Set a PDB's status.disruptionsAllowed (as the disruption controller would)."""
        with self.lock:
            status = copy.deepcopy(self._require("poddisruptionbudgets", namespace, name)["status"])
            status["disruptionsAllowed"] = allowed
            return self._set_pdb_status(namespace, name, status)

    def release_after(self, namespace: str, name: str, refusals: int = 1, allowed: int = 1) -> None:
        """Let PDB `name` allow `allowed` disruptions once it has refused `refusals` evictions."""
        with self.lock:
            self._releases[(namespace, name)] = PdbRelease(refusals, allowed)

    def _set_pdb_status(self, namespace: str, name: str, status: Obj) -> Obj:
        allowed = status["disruptionsAllowed"] > 0
        status["conditions"] = [budgets.condition(allowed)]
        return self.patch(
            "poddisruptionbudgets", namespace, name, patching.MERGE, {"status": status}, "status"
        )

    @contextmanager
    def dry_run(self) -> Iterator[None]:
        """Run writes inside this block for their answer only (`?dryRun=All`): the state,
        history and records are put back afterwards. The lock is held throughout, so no
        reader or watch sees the intermediate state."""
        with self.lock:
            saved = (
                copy.deepcopy(self._objects),
                list(self._history),
                self._version,
                list(self.evicted),
                list(self.eviction_refusals),
                copy.deepcopy(self._releases),
            )
            try:
                yield
            finally:
                (
                    self._objects,
                    self._history,
                    self._version,
                    self.evicted,
                    self.eviction_refusals,
                    self._releases,
                ) = saved

    # ---- history -------------------------------------------------------------------------

    def compact(self) -> int:
        """Forget the history up to now: a watch or list from an older version gets 410."""
        with self.changed:
            self._compacted = self._version
            self._history.clear()
            self.changed.notify_all()
            return self._compacted

    def close(self) -> None:
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    # ---- internals -----------------------------------------------------------------------

    def _require(self, plural: str, namespace: str, name: str) -> Obj:
        resource = BY_PLURAL[plural]
        key = (namespace if resource.namespaced else "", name)
        obj = self._objects[plural].get(key)
        if obj is None:
            raise errors.not_found(plural, name, resource.group)
        return obj

    def _update(self, plural: str, current: Obj, new: Obj, subresource: str) -> Obj:
        resource = BY_PLURAL[plural]
        meta = current["metadata"]
        if subresource == "status":
            merged = copy.deepcopy(current)
            merged["status"] = new.get("status", {})
        else:
            merged = new
            if resource.has_status and "status" in current:
                merged["status"] = copy.deepcopy(current["status"])
        merged["kind"], merged["apiVersion"] = resource.kind, resource.group_version
        new_meta = merged.setdefault("metadata", {})
        for fixed in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp"):
            if fixed in meta:
                new_meta[fixed] = meta[fixed]
        new_meta["generation"] = meta.get("generation", 1)
        if merged.get("spec") != current.get("spec") and plural not in ("pods", "nodes"):
            new_meta["generation"] += 1
            if plural == "poddisruptionbudgets":
                merged["status"]["observedGeneration"] = new_meta["generation"]
        key = (meta.get("namespace", ""), meta["name"])
        self._store(resource, key, merged, "MODIFIED", current)
        return copy.deepcopy(merged)

    def _store(
        self, resource: Resource, key: tuple[str, str], obj: Obj, kind: str, previous: Obj | None
    ) -> None:
        if resource.kind == "Node":
            _sync_unschedulable_taint(obj)
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)
        self._objects[resource.plural][key] = obj
        self._history.append(
            Change(self._version, resource.plural, kind, copy.deepcopy(obj), previous)
        )
        self.changed.notify_all()


def _sync_unschedulable_taint(node: Obj) -> None:
    """A cordoned node carries the unschedulable taint (the node controller adds it)."""
    spec = node.setdefault("spec", {})
    taints = spec.get("taints") or []
    has_taint = any(t.get("key") == UNSCHEDULABLE_TAINT for t in taints)
    if spec.get("unschedulable") and not has_taint:
        taints = [*taints, {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": now()}]
    elif not spec.get("unschedulable"):
        taints = [t for t in taints if t.get("key") != UNSCHEDULABLE_TAINT]
    if taints:
        spec["taints"] = taints
    else:
        spec.pop("taints", None)
