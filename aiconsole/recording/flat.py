"""Snapshots as sets of leaves: what changed between two, and how to put changes back.

A snapshot's msgspec builtins form (dicts, lists, scalars) is read as a flat map from *paths*
to *leaves*. A path is a tuple of dict keys (``str``) and list indices (``int``); a leaf is a
scalar or an *empty* list or dict. Working on this form rather than on the model's types is
what lets a recording keep any field the snapshot grows later without a code change.

:func:`diff` lists the leaves that differ between two snapshots (set or deleted);
:func:`apply` replays a set of "last change per path" onto a decoded keyframe in place.
Because the flat map is the whole truth, the value of a path at any frame is simply its last
change at or before that frame: no change needs the ones before it, which is what lets a
reader jump to any frame of a chunk without stepping through the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgspec

Path = tuple[str | int, ...]


_SEQUENCES = (list, tuple)
"""``msgspec.to_builtins`` keeps a struct's tuples as tuples; JSON reads them back as lists:
both are the same kind of node here."""


class Deleted:
    """The marker for "this leaf is gone" (a dict key removed, a list shortened)."""

    def __repr__(self) -> str:
        return "DELETED"


DELETED = Deleted()


class ShapeError(ValueError):
    """A change that does not fit the state it is applied to (a corrupt recording)."""


def leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, leaf) under ``value``, parents' keys in order, list items by index."""
    if type(value) is dict and value:
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif type(value) in _SEQUENCES and value:
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def diff(old: Any, new: Any, emit: Callable[[Path, Any], None], path: Path = ()) -> None:
    """Call ``emit(path, value)`` for each leaf that changed from ``old`` to ``new``, and
    ``emit(path, DELETED)`` for each leaf of ``old`` that ``new`` no longer has.

    Equal subtrees are skipped after C-level checks, so the cost follows what changed, not
    the size of the snapshot. A leaf whose type changes is a change (``1`` to ``1.0`` or
    ``True``): Python calls those equal, their JSON does not, so subtrees that compare equal
    are also compared as JSON before they are skipped.
    """
    if type(old) is not type(new) and not (type(old) in _SEQUENCES and type(new) in _SEQUENCES):
        _replace(old, new, emit, path)
    elif type(new) is dict:
        if old == new and _same_json(old, new):
            return
        if not old or not new:
            _replace(old, new, emit, path)
            return
        for key, item in new.items():
            if key in old:
                diff(old[key], item, emit, (*path, key))
            else:
                for sub, leaf in leaves(item, (*path, key)):
                    emit(sub, leaf)
        for key, item in old.items():
            if key not in new:
                for sub, _ in leaves(item, (*path, key)):
                    emit(sub, DELETED)
    elif type(new) in _SEQUENCES:
        if old == new and _same_json(old, new):
            return
        if not old or not new:
            _replace(old, new, emit, path)
            return
        for index, item in enumerate(new):
            if index < len(old):
                diff(old[index], item, emit, (*path, index))
            else:
                for sub, leaf in leaves(item, (*path, index)):
                    emit(sub, leaf)
        for index in range(len(new), len(old)):
            for sub, _ in leaves(old[index], (*path, index)):
                emit(sub, DELETED)
    elif old != new or (new != new):  # NaN never equals itself: record it once, it is rare
        emit(path, new)


def _same_json(old: Any, new: Any) -> bool:
    # Each unchanged subtree is encoded once (its parent differed), so this costs about one
    # encoding of the snapshot per frame, in C.
    return bool(msgspec.json.encode(old) == msgspec.json.encode(new))


def _replace(old: Any, new: Any, emit: Callable[[Path, Any], None], path: Path) -> None:
    for sub, _ in leaves(old, path):
        emit(sub, DELETED)
    for sub, leaf in leaves(new, path):
        emit(sub, leaf)


def apply(state: Any, changes: list[tuple[Path, Any]]) -> Any:
    """Put the last change of each path onto ``state`` (the chunk's keyframe, decoded fresh:
    it is changed in place) and return the result.

    Deletions go first, deepest and highest index first, so a shortened list is cut from its
    end and a container left empty by them disappears; then values are set. A list grows one
    index after the other: a set past a list's end waits until the items before it are there
    (changes come in the order their paths were first seen, so waiting is rare). A change
    that does not fit raises :class:`ShapeError`.
    """
    root: list[Any] = [state]
    deletions = [path for path, value in changes if value is DELETED]
    deletions.sort(key=_order, reverse=True)
    for path in deletions:
        _delete(root, (0, *path))
    waiting = [(path, value) for path, value in changes if value is not DELETED]
    while waiting:
        later = [(path, value) for path, value in waiting if not _set(root, (0, *path), value)]
        if len(later) == len(waiting):
            raise ShapeError(f"path {list(later[0][0])} does not fit the state")
        waiting = later
    return root[0] if root else None


def _order(path: Path) -> tuple[tuple[bool, str | int], ...]:
    # Keys and indices never meet at one level of a valid state; the flag keeps the sort
    # total (no str-int comparison) even for a corrupt file.
    return tuple((type(part) is int, part) for part in path)


def _delete(root: list[Any], path: Path) -> None:
    trail: list[tuple[Any, str | int]] = []
    node: Any = root
    for part in path:
        if not _has(node, part):
            return  # already gone with an emptied parent
        trail.append((node, part))
        node = node[part]
    # Remove the leaf, then every container its removal left empty.
    while trail:
        parent, part = trail.pop()
        if type(parent) is list and type(part) is int:
            if part != len(parent) - 1:
                # An item that turns from a leaf into a container (or back): the sets that
                # follow fill its place; a list never loses an item from its middle.
                parent[part] = None
                return
            parent.pop()
        else:
            del parent[part]
        if parent or not trail:
            return


def _has(node: Any, part: str | int) -> bool:
    if type(node) is dict:
        return part in node
    return type(node) is list and type(part) is int and 0 <= part < len(node)


def _set(root: list[Any], path: Path, value: Any) -> bool:
    """Set one leaf; False when a list on the way is too short for it (yet)."""
    node: Any = root
    for at, part in enumerate(path):
        last = at == len(path) - 1
        if type(node) is dict and type(part) is str:
            if last:
                node[part] = value
            elif part not in node or type(node[part]) not in (dict, list):
                node[part] = {} if type(path[at + 1]) is str else []
        elif type(node) is list and type(part) is int and part > len(node):
            return False
        elif type(node) is list and type(part) is int and 0 <= part <= len(node):
            if part == len(node):
                node.append(value if last else {} if type(path[at + 1]) is str else [])
            elif last:
                node[part] = value
            elif type(node[part]) not in (dict, list):
                node[part] = {} if type(path[at + 1]) is str else []
        else:
            raise ShapeError(f"path {list(path[1:])} does not fit the state")
        if not last:
            node = node[part]
    return True
