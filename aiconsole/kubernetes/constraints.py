"""Where a pod may run: its tolerations, node selector and required node affinity, read from
the pod spec, and the checks the scheduler makes with them against a node.

Only the hard constraints: a pod that fails one of these is never placed on the node, so a
plan that moves it there would send it nowhere. Preferences (``PreferNoSchedule``,
preferred affinity) only sway the scheduler and are not checked.
"""

from __future__ import annotations

from typing import Any

from aiconsole.model import KubeNode, KubeNodeRequirement, KubePod, KubeToleration
from aiconsole.text import clean

HARD_EFFECTS = ("NoSchedule", "NoExecute")
AFFINITY_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any, limit: int = 256) -> str | None:
    return clean(value, limit) if isinstance(value, str) else None


def tolerations_from(spec: dict[str, Any]) -> tuple[KubeToleration, ...]:
    found = []
    for raw in map(_dict, _list(spec.get("tolerations"))):
        operator = raw.get("operator")
        found.append(
            KubeToleration(
                key=_text(raw.get("key")) or None,
                operator="Exists" if operator == "Exists" else "Equal",
                value=_text(raw.get("value")),
                effect=_text(raw.get("effect"), 32) or None,
            )
        )
    return tuple(found)


def node_selector_from(spec: dict[str, Any]) -> dict[str, str]:
    return {
        clean(k, 256): clean(v, 256)
        for k, v in _dict(spec.get("nodeSelector")).items()
        if isinstance(k, str) and isinstance(v, str)
    }


def node_affinity_from(spec: dict[str, Any]) -> tuple[tuple[KubeNodeRequirement, ...], ...]:
    required = _dict(
        _dict(_dict(spec.get("affinity")).get("nodeAffinity")).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
    )
    terms = []
    for term in map(_dict, _list(required.get("nodeSelectorTerms"))):
        requirements = []
        # matchFields can only name metadata.name: kept as a requirement on that key.
        raws = [*_list(term.get("matchExpressions")), *_list(term.get("matchFields"))]
        for raw in map(_dict, raws):
            key, operator = _text(raw.get("key")), raw.get("operator")
            if key is None or operator not in AFFINITY_OPERATORS:
                # A requirement we cannot read: keep it, unmeetable, rather than drop it
                # and call a node that may not fit a fit.
                requirements.append(KubeNodeRequirement(key=key or "", operator="Unknown"))
                continue
            values = tuple(clean(v, 256) for v in _list(raw.get("values")) if isinstance(v, str))
            requirements.append(KubeNodeRequirement(key=key, operator=operator, values=values))
        terms.append(tuple(requirements))
    return tuple(terms)


def parse_taint(text: str) -> tuple[str, str | None, str]:
    """``key=value:Effect`` (as :class:`KubeNode` keeps taints) -> (key, value, effect)."""
    head, _, effect = text.rpartition(":")
    if not head:
        head, effect = text, ""
    key, equals, value = head.partition("=")
    return key, (value if equals else None), effect


def tolerates(toleration: KubeToleration, key: str, value: str | None, effect: str) -> bool:
    if toleration.effect is not None and toleration.effect != effect:
        return False
    if toleration.key is None:
        return toleration.operator == "Exists"
    if toleration.key != key:
        return False
    if toleration.operator == "Exists":
        return True
    return (toleration.value or "") == (value or "")


def untolerated_taints(pod: KubePod, node: KubeNode) -> list[str]:
    """The node's NoSchedule/NoExecute taints that none of the pod's tolerations accepts."""
    refused = []
    for text in node.taints:
        key, value, effect = parse_taint(text)
        if effect not in HARD_EFFECTS:
            continue
        if not any(tolerates(t, key, value, effect) for t in pod.tolerations):
            refused.append(text)
    return refused


def _meets(requirement: KubeNodeRequirement, labels: dict[str, str]) -> bool:
    present = requirement.key in labels
    value = labels.get(requirement.key, "")
    operator = requirement.operator
    if operator == "In":
        return present and value in requirement.values
    if operator == "NotIn":
        return not present or value not in requirement.values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(requirement.values) == 1:
        try:
            mine, bound = int(value), int(requirement.values[0])
        except ValueError:
            return False
        return mine > bound if operator == "Gt" else mine < bound
    return False


def why_not_on(pod: KubePod, node: KubeNode) -> str | None:
    """Why the scheduler would never place ``pod`` on ``node`` (taints, selector, affinity),
    or None when these constraints allow it. Room (GPUs) and node state are checked apart."""
    taints = untolerated_taints(pod, node)
    if taints:
        return "taint " + ", ".join(taints) + " not tolerated"
    missing = [f"{k}={v}" for k, v in sorted(pod.node_selector.items()) if node.labels.get(k) != v]
    if missing:
        return "nodeSelector " + ", ".join(missing) + " not met"
    labels = {**node.labels, "metadata.name": node.name}
    # An empty term matches no node, as the scheduler reads it.
    if pod.node_affinity and not any(
        term and all(_meets(r, labels) for r in term) for term in pod.node_affinity
    ):
        return "required node affinity not met"
    return None
