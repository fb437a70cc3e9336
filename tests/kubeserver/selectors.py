"""Label and field selectors, with the grammar and the supported fields of the real API server."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Matcher = Callable[[Obj], bool]


class SelectorError(ValueError):
    """A selector the real server would refuse with 400 Bad Request."""


_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s+\(([^)]*)\)$")
_EQUALITY = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*([-A-Za-z0-9_.]*)$")
_EXISTS = re.compile(rf"^(!?)\s*({_KEY})$")


def _split(text: str) -> list[str]:
    """Split on commas that are not inside the parentheses of `in (a,b)`."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _label_requirement(text: str) -> Matcher:
    match = _SET.match(text)
    if match:
        key, operator, values = match.group(1), match.group(3), match.group(4)
        allowed = {value.strip() for value in values.split(",") if value.strip()}
        if operator == "in":
            return lambda labels: labels.get(key) in allowed
        return lambda labels: labels.get(key) not in allowed
    match = _EQUALITY.match(text)
    if match:
        key, operator, value = match.group(1), match.group(3), match.group(4)
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: key in labels and labels[key] == value
    match = _EXISTS.match(text)
    if match:
        negated, key = match.group(1) == "!", match.group(2)
        return lambda labels: (key in labels) != negated
    raise SelectorError(f"unable to parse requirement: {text!r}")


def label_matcher(selector: str | None) -> Matcher:
    """A predicate on an object's metadata.labels for a `labelSelector` query value."""
    if not selector:
        return lambda obj: True
    requirements = [_label_requirement(part) for part in _split(selector)]

    def matches(obj: Obj) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(requirement(labels) for requirement in requirements)

    return matches


def match_labels(selector: Obj | None, labels: Obj) -> bool:
    """Whether a LabelSelector object (matchLabels, matchExpressions) selects these labels."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _metadata(field: str) -> Callable[[Obj], str]:
    return lambda obj: str(obj.get("metadata", {}).get(field) or "")


def _path(*keys: str) -> Callable[[Obj], str]:
    def read(obj: Obj) -> str:
        value: Any = obj
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return read


_COMMON = {"metadata.name": _metadata("name"), "metadata.namespace": _metadata("namespace")}
# The field labels each kind supports on a real server (others are refused with 400).
FIELDS: dict[str, dict[str, Callable[[Obj], str]]] = {
    "Pod": {
        **_COMMON,
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    # An absent bool is false to the real server (it formats the Go field, never "").
    "Node": {
        **_COMMON,
        "spec.unschedulable": lambda node: _path("spec", "unschedulable")(node) or "false",
    },
    "Event": {
        **_COMMON,
        "involvedObject.kind": _path("involvedObject", "kind"),
        "involvedObject.name": _path("involvedObject", "name"),
        "involvedObject.namespace": _path("involvedObject", "namespace"),
        "involvedObject.uid": _path("involvedObject", "uid"),
        "involvedObject.apiVersion": _path("involvedObject", "apiVersion"),
        "involvedObject.resourceVersion": _path("involvedObject", "resourceVersion"),
        "involvedObject.fieldPath": _path("involvedObject", "fieldPath"),
        "source": _path("source", "component"),
        "reportingComponent": _path("reportingComponent"),
        "reason": _path("reason"),
        "type": _path("type"),
    },
}


def _field_requirement(read: Callable[[Obj], str], negated: bool, value: str) -> Matcher:
    return lambda obj: (read(obj) == value) != negated


def field_matcher(kind: str, selector: str | None) -> Matcher:
    """A predicate for a `fieldSelector` query value (=, == and != on supported fields)."""
    if not selector:
        return lambda obj: True
    fields = FIELDS.get(kind, _COMMON)
    requirements: list[Matcher] = []
    for part in _split(selector):
        match = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", part)
        if not match:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{part}'")
        name, operator, value = match.group(1).strip(), match.group(2), match.group(3).strip()
        if name not in fields:
            raise SelectorError(f"field label not supported: {name}")
        requirements.append(_field_requirement(fields[name], operator == "!=", value))
    return lambda obj: all(requirement(obj) for requirement in requirements)
