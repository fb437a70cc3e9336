"""The three PATCH flavours kubectl and the client libraries send: JSON merge patch (RFC 7386),
JSON patch (RFC 6902) and Kubernetes' strategic merge patch (for the fields tests touch)."""

from __future__ import annotations

import copy
from typing import Any

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"

# Lists the strategic merge patch merges element by element, by this key (from the Go types'
# patchMergeKey tags); every other list is replaced whole.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "conditions": "type",
    "addresses": "type",
    "ownerReferences": "uid",
    "imagePullSecrets": "name",
}


class PatchError(ValueError):
    """A patch the real server would refuse (422 or 400)."""


def apply(content_type: str, target: Any, patch: Any) -> Any:
    kind = content_type.split(";")[0].strip()
    if kind == MERGE:
        return merge_patch(target, patch)
    if kind == STRATEGIC:
        return strategic_merge(target, patch)
    if kind == JSON_PATCH:
        return json_patch(target, patch)
    raise PatchError(f"the server does not support the patch type {kind!r}")


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [item for item in result.get(name) or [] if item not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, MERGE_KEYS[key])
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_list(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    merged = copy.deepcopy(current)
    for element in patch:
        if not isinstance(element, dict) or key not in element:
            raise PatchError(f"map: {element!r} does not contain declared merge key: {key}")
        index = next((i for i, item in enumerate(merged) if item.get(key) == element[key]), None)
        if element.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append({k: v for k, v in element.items() if k != "$patch"})
        else:
            merged[index] = strategic_merge(merged[index], element)
    return merged


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(document: Any, parts: list[str]) -> Any:
    node = document
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError) as error:
            raise PatchError(f"path /{'/'.join(parts)} not found") from error
    return node


def _get(document: Any, parts: list[str]) -> Any:
    if not parts:
        return document
    parent = _parent(document, parts)
    try:
        return parent[int(parts[-1])] if isinstance(parent, list) else parent[parts[-1]]
    except (KeyError, IndexError, ValueError) as error:
        raise PatchError(f"path /{'/'.join(parts)} not found") from error


def _remove(document: Any, parts: list[str]) -> Any:
    parent = _parent(document, parts)
    try:
        if isinstance(parent, list):
            return parent.pop(int(parts[-1]))
        return parent.pop(parts[-1])
    except (KeyError, IndexError, ValueError) as error:
        raise PatchError(f"unable to remove nonexistent key: {parts[-1]}") from error


def _add(document: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _parent(document, parts)
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if index > len(parent):
            raise PatchError(f"index {index} out of range")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise PatchError(f"cannot add at /{'/'.join(parts)}")
    return document


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise PatchError("a JSON patch is a list of operations")
    document = copy.deepcopy(target)
    for operation in operations:
        op, parts = operation.get("op"), _pointer(operation.get("path", ""))
        if op == "add":
            document = _add(document, parts, copy.deepcopy(operation["value"]))
        elif op == "remove":
            _remove(document, parts)
        elif op == "replace":
            _get(document, parts)  # must exist
            if parts:
                _remove(document, parts)
            document = _add(document, parts, copy.deepcopy(operation["value"]))
        elif op in ("move", "copy"):
            source = _pointer(operation["from"])
            value = (
                _remove(document, source) if op == "move" else copy.deepcopy(_get(document, source))
            )
            document = _add(document, parts, value)
        elif op == "test":
            if _get(document, parts) != operation.get("value"):
                raise PatchError(f"testing value /{'/'.join(parts)} failed")
        else:
            raise PatchError(f"unknown JSON patch operation {op!r}")
    return document
