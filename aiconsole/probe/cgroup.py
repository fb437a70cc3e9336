"""Which workload a process belongs to, from its ``/proc/PID/cgroup``.

Schedulers and container runtimes put every process they start in a cgroup whose path names
it, so the path alone joins a GPU process to its job or pod without asking anyone:

* Slurm, cgroup v1: ``/slurm/uid_1000/job_81234/step_0/task_0`` (``/slurm_<node>/...`` when
  several slurmd share a host); cgroup v2: ``/system.slice/slurmstepd.scope/job_81234/step_0/...``
* Kubernetes, systemd driver: ``kubepods-burstable-pod<uid, _ for ->.slice/``
  ``cri-containerd-<id>.scope``; cgroupfs driver: ``/kubepods/burstable/pod<uid>/<id>``
* plain containers: ``docker-<id>.scope`` or ``/docker/<id>``, ``libpod-<id>.scope`` (podman),
  ``cri-containerd-<id>.scope``, ``crio-<id>.scope``

On cgroup v1 every controller has its own line; the first that names a workload wins (the
hierarchies agree for processes a scheduler placed).
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

    JsonDict = Dict[str, Any]

# Anchored at the root of the hierarchy: a user may create cgroups under the part of the tree
# delegated to them (user@UID.service), named like a job, but not at the root.
_SLURM = re.compile(
    r"/(?:slurm(?:_[^/]+)?/uid_[0-9]+|system\.slice/slurmstepd\.scope)/job_([0-9]+)"
    r"(?:/step_([A-Za-z0-9_]+))?"
)
_POD_SYSTEMD = re.compile(
    r"/kubepods\.slice/(?:kubepods-[a-z]+\.slice/)?kubepods(?:-[a-z]+)?-pod([0-9a-f_]{36})\.slice"
)
_POD_CGROUPFS = re.compile(r"/kubepods(?:/[a-z]+)?/pod([0-9a-f-]{36})(?:/([0-9a-f]{64}))?")
_SCOPE = re.compile(r"(docker|libpod|cri-containerd|crio|containerd)-([0-9a-f]{64})\.scope")
_CGROUPFS_CONTAINER = re.compile(r"/(docker|containerd|libpod)/([0-9a-f]{64})(?:/|$)")
RUNTIMES = {"libpod": "podman", "cri-containerd": "containerd", "crio": "cri-o"}


def _paths(text: str) -> "list[str]":
    paths = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            paths.append(parts[2])
    return paths


def workload_of(text: str) -> Optional[JsonDict]:
    """The workload named by a ``/proc/PID/cgroup``, or None (a process of no job or pod)."""
    for path in _paths(text):
        found = _from_path(path)
        if found is not None:
            return found
    return None


def _from_path(path: str) -> Optional[JsonDict]:
    slurm = _SLURM.match(path)
    if slurm is not None:
        return {"kind": "slurm_job", "id": slurm.group(1), "step": slurm.group(2)}
    scope = _SCOPE.search(path)
    container = None
    runtime = None
    if scope is not None:
        runtime, container = RUNTIMES.get(scope.group(1), scope.group(1)), scope.group(2)
    pod = _POD_SYSTEMD.match(path)
    if pod is not None:
        return {
            "kind": "pod",
            "id": pod.group(1).replace("_", "-"),
            "container_id": container,
            "runtime": runtime,
        }
    pod = _POD_CGROUPFS.match(path)
    if pod is not None:
        return {
            "kind": "pod",
            "id": pod.group(1),
            "container_id": pod.group(2) or container,
            "runtime": runtime,
        }
    if container is None:
        plain = _CGROUPFS_CONTAINER.search(path)
        if plain is not None:
            runtime, container = RUNTIMES.get(plain.group(1), plain.group(1)), plain.group(2)
    if container is not None:
        return {"kind": "container", "id": container, "runtime": runtime}
    return None
