"""ClusterShell-style node sets: ``gpu[01-64]``, ``rack[1-2]-n[01-16]``, ``a,b``, ``gpu[1-8]!gpu3``.

Syntax (a subset of ClusterShell's, the part operators type):

* ``,`` separates terms; the result is their union, in the order written;
* ``!`` removes the hosts of the term that follows from what came before it;
* ``[...]`` holds numbers and ranges (``1,3,5-7``); a range keeps the zero padding of its
  start (``01-64`` -> ``01`` ... ``64``); several brackets in one name multiply out;
* ``@name`` stands for a group from the inventory.

Every expanded name is checked to be a plain host name, so nothing else can reach a command line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

HOST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})$")
MAX_HOSTS = 100_000
"""A typo such as ``n[1-100000000]`` must fail fast instead of filling memory."""


class NodeSetError(ValueError):
    """A node set that cannot be parsed; the message says what and where."""


def _split_top_level(text: str, separators: str) -> list[tuple[str, str]]:
    """Split on separators outside brackets: [(separator before term, term)]."""
    parts: list[tuple[str, str]] = []
    depth = 0
    current = ""
    operator = ","
    for position, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise NodeSetError(f"unbalanced ']' at position {position + 1} in {text!r}")
        if char in separators and depth == 0:
            parts.append((operator, current))
            operator = char
            current = ""
        else:
            current += char
    if depth:
        raise NodeSetError(f"unclosed '[' in {text!r}")
    parts.append((operator, current))
    return parts


def _expand_brackets(term: str) -> list[str]:
    match = re.search(r"\[([^\[\]]*)\]", term)
    if match is None:
        return [term]
    prefix, suffix = term[: match.start()], term[match.end() :]
    values: list[str] = []
    for piece in match.group(1).split(","):
        piece = piece.strip()
        if re.fullmatch(r"\d+", piece):
            values.append(piece)
            continue
        bounds = re.fullmatch(r"(\d+)-(\d+)", piece)
        if bounds is None:
            raise NodeSetError(f"bad range {piece!r} in {term!r} (expected N or N-M)")
        start, end = bounds.groups()
        if int(end) < int(start):
            raise NodeSetError(f"range {piece!r} in {term!r} goes backwards")
        if int(end) - int(start) >= MAX_HOSTS:
            raise NodeSetError(f"range {piece!r} in {term!r} has more than {MAX_HOSTS} hosts")
        width = len(start) if start.startswith("0") else 0
        values.extend(str(n).zfill(width) for n in range(int(start), int(end) + 1))
    expanded: list[str] = []
    for value in values:
        expanded.extend(_expand_brackets(prefix + value + suffix))
        if len(expanded) > MAX_HOSTS:
            raise NodeSetError(f"{term!r} expands to more than {MAX_HOSTS} hosts")
    return expanded


def expand(text: str, groups: Callable[[str], Iterable[str]] | None = None) -> list[str]:
    """Expand a node set to host names, in order, without duplicates."""
    result: dict[str, None] = {}
    if not text.strip():
        raise NodeSetError("empty node set")
    for operator, raw in _split_top_level(text.strip(), ",!"):
        term = raw.strip()
        if not term:
            raise NodeSetError(f"empty term in {text!r}")
        if term.startswith("@"):
            if groups is None:
                raise NodeSetError(f"group {term} used, but no inventory defines groups")
            names = list(groups(term[1:]))
        else:
            names = _expand_brackets(term)
        for name in names:
            if not HOST_NAME.match(name):
                raise NodeSetError(f"{name!r} (from {term!r}) is not a valid host name")
        if operator == "!":
            for name in names:
                result.pop(name, None)
        else:
            result.update(dict.fromkeys(names))
    return list(result)


def fold(names: Iterable[str]) -> str:
    """The inverse, for display: ``node1,node2,node3,login`` -> ``login,node[1-3]``."""
    by_pattern: dict[tuple[str, str, int], list[int]] = {}
    plain: list[str] = []
    for name in names:
        match = re.fullmatch(r"(.*?)(\d+)(\D*)", name)
        if match is None:
            plain.append(name)
            continue
        prefix, digits, suffix = match.groups()
        width = len(digits) if digits.startswith("0") and len(digits) > 1 else 0
        by_pattern.setdefault((prefix, suffix, width), []).append(int(digits))
    folded = list(plain)
    for (prefix, suffix, width), numbers in by_pattern.items():
        numbers = sorted(set(numbers))
        if len(numbers) == 1:
            folded.append(f"{prefix}{str(numbers[0]).zfill(width)}{suffix}")
            continue
        ranges: list[str] = []
        start = previous = numbers[0]
        for number in [*numbers[1:], None]:
            if number is not None and number == previous + 1:
                previous = number
                continue
            low, high = str(start).zfill(width), str(previous).zfill(width)
            ranges.append(low if start == previous else f"{low}-{high}")
            if number is not None:
                start = previous = number
        folded.append(f"{prefix}[{','.join(ranges)}]{suffix}")
    return ",".join(sorted(folded))
