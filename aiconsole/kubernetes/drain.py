"""kubectl's drain rules, as pure functions over the snapshot's pods.

Per pod, in kubectl's order (``pkg/drain``), the first rule that decides ends the chain:
DaemonSet-managed pods are skipped (their controller would put them straight back), mirror
pods are skipped (the kubelet owns them), pods with ``emptyDir`` data need
``--delete-emptydir-data``, pods with no controller need ``--force``. Finished pods
(Succeeded/Failed) are deleted rather than evicted: there is nothing left to disrupt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aiconsole.model import KubePod
from aiconsole.text import clean

Verdict = Literal["evict", "delete", "skip", "refuse"]
FINISHED = ("Succeeded", "Failed")


@dataclass(frozen=True)
class PodDecision:
    pod: KubePod
    verdict: Verdict
    why: str = ""
    """Why skipped or refused, or a warning for a pod that will go anyway."""


def gpus_text(pod: KubePod) -> str:
    if not pod.gpus:
        return "no GPUs"
    return ", ".join(f"{count} {name}" for name, count in sorted(pod.gpus.items()))


def owner_text(pod: KubePod) -> str:
    return f"{pod.owner_kind} {pod.owner_name}" if pod.owner_kind else "no controller"


def decide(
    pod: KubePod,
    *,
    force: bool = False,
    delete_emptydir_data: bool = False,
    orphaned_daemonset: bool = False,
) -> PodDecision:
    """What drain does with one pod on the node. ``orphaned_daemonset``: its DaemonSet is gone."""
    finished = pod.phase in FINISHED
    if pod.owner_kind == "DaemonSet" and not finished:
        if not orphaned_daemonset:
            return PodDecision(pod, "skip", "DaemonSet-managed: its DaemonSet keeps it here")
        if not force:
            return PodDecision(
                pod, "refuse", f"its DaemonSet {pod.owner_name} is gone (--force evicts it)"
            )
    if pod.mirror:
        return PodDecision(pod, "skip", "mirror of a static pod: the kubelet owns it")
    if pod.empty_dir_volumes and not finished and not delete_emptydir_data:
        volumes = ",".join(pod.empty_dir_volumes)
        return PodDecision(
            pod,
            "refuse",
            f"has local emptyDir data ({volumes}) that eviction deletes "
            "(--delete-emptydir-data allows it)",
        )
    if pod.owner_kind is None and not finished and not force:
        return PodDecision(
            pod, "refuse", "declares no controller: nothing would recreate it (--force allows it)"
        )
    if finished:
        return PodDecision(pod, "delete", f"{pod.phase}: deleted, not evicted")
    warnings = []
    if pod.empty_dir_volumes:
        warnings.append(f"emptyDir data ({','.join(pod.empty_dir_volumes)}) is deleted")
    if pod.owner_kind is None:
        warnings.append("no controller: it will not come back")
    return PodDecision(pod, "evict", "; ".join(warnings))


@dataclass(frozen=True)
class Budget:
    """A PodDisruptionBudget, reduced to what drain needs."""

    namespace: str
    name: str
    disruptions_allowed: int
    match_labels: dict[str, str]
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...]
    selects_all: bool = False
    """``selector: {}``: every pod in the namespace."""

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"

    def covers(self, pod: KubePod) -> bool:
        if pod.namespace != self.namespace:
            return False
        if self.selects_all:
            return True
        if not self.match_labels and not self.expressions:
            return False
        if any(pod.labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for key, operator, values in self.expressions:
            present = key in pod.labels
            if operator == "In" and not (present and pod.labels[key] in values):
                return False
            if operator == "NotIn" and present and pod.labels[key] in values:
                return False
            if operator == "Exists" and not present:
                return False
            if operator == "DoesNotExist" and present:
                return False
        return True


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def budget_from(raw: Any) -> Budget | None:
    if not isinstance(raw, dict):
        return None
    meta, spec, status = (_dict(raw.get(key)) for key in ("metadata", "spec", "status"))
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None
    allowed = status.get("disruptionsAllowed")
    selector = spec.get("selector")
    labels: dict[str, str] = {}
    expressions: list[tuple[str, str, tuple[str, ...]]] = []
    if isinstance(selector, dict):
        raw_labels = selector.get("matchLabels")
        if isinstance(raw_labels, dict):
            labels = {k: v for k, v in raw_labels.items() if isinstance(v, str)}
        for expression in selector.get("matchExpressions") or []:
            if isinstance(expression, dict) and isinstance(expression.get("key"), str):
                values = tuple(v for v in expression.get("values") or [] if isinstance(v, str))
                expressions.append((expression["key"], str(expression.get("operator")), values))
    return Budget(
        namespace=clean(namespace, 63),
        name=clean(name, 253),
        disruptions_allowed=allowed if isinstance(allowed, int) else 0,
        match_labels=labels,
        expressions=tuple(expressions),
        selects_all=isinstance(selector, dict) and not labels and not expressions,
    )


def budgets_for(pod: KubePod, budgets: list[Budget]) -> list[Budget]:
    return [budget for budget in budgets if budget.covers(pod)]
