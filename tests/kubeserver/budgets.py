"""PodDisruptionBudget arithmetic, as the disruption controller and the eviction handler do it."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from tests.kubeserver.selectors import match_labels

Obj = dict[str, Any]


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def covering(pod: Obj, budgets: Iterable[Obj]) -> list[Obj]:
    """The PDBs of the pod's namespace whose selector matches its labels."""
    labels = pod["metadata"].get("labels") or {}
    return sorted(
        (
            pdb
            for pdb in budgets
            if pdb["metadata"]["namespace"] == pod["metadata"]["namespace"]
            and match_labels(pdb["spec"].get("selector"), labels)
        ),
        key=lambda pdb: str(pdb["metadata"]["name"]),
    )


def status(pdb: Obj, pods: Iterable[Obj]) -> Obj:
    """A PDB's status computed from the pods it covers (what the disruption controller writes)."""
    covered = [
        pod
        for pod in pods
        if pdb in covering(pod, [pdb]) and pod["status"].get("phase") not in ("Succeeded", "Failed")
    ]
    expected = len(covered)
    healthy = sum(1 for pod in covered if ready(pod))
    spec = pdb["spec"]
    if "minAvailable" in spec:
        desired = scaled(spec["minAvailable"], expected)
    else:
        desired = expected - scaled(spec.get("maxUnavailable", 0), expected)
    allowed = max(0, healthy - desired)
    return {
        "observedGeneration": 1,
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "conditions": [condition(allowed > 0)],
    }


def can_ignore(pod: Obj) -> bool:
    phase = pod.get("status", {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(
        pod["metadata"].get("deletionTimestamp")
    )


def unhealthy_may_go(pdb: Obj, pod: Obj) -> bool:
    """A pod that is not Ready is evicted without spending a disruption when the PDB says
    AlwaysAllow, or (the default, IfHealthyBudget) while the budget is met without it."""
    conditions = pod.get("status", {}).get("conditions") or []
    if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
        return False
    if pdb["spec"].get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    status = pdb.get("status") or {}
    desired = status.get("desiredHealthy", 0)
    return bool(status.get("currentHealthy", 0) >= desired > 0)


def ready(pod: Obj) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return pod.get("status", {}).get("phase") == "Running" and ready


def scaled(value: int | str, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return -(-int(value[:-1]) * total // 100)  # rounded up, as the disruption controller does
    return int(value)


def condition(allowed: bool) -> Obj:
    return {
        "type": "DisruptionAllowed",
        "status": "True" if allowed else "False",
        "reason": "SufficientPods" if allowed else "InsufficientPods",
        "message": "",
        "observedGeneration": 1,
        "lastTransitionTime": now(),
    }
