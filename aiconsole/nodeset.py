"""ClusterShell-style node sets: ``gpu[01-64]``, ``rack[1-2]-n[01-16]``, ``a,b``, ``gpu[1-8]!gpu3``.

Syntax (ClusterShell's, less what an operator should never need):

* ``,`` separates terms; the result is their union, in the order written;
* ``!`` removes the hosts of the term that follows from what came before it;
* ``[...]`` holds numbers, ranges and stepped ranges (``1,3,5-7,10-20/5``); a range keeps the
  zero padding of its ends, which must then have the same width (``01-64``, not ``1-064``);
  several brackets in one name multiply out (``rack[1-2]-n[01-16]``);
* ``@name`` stands for a group from the inventory.

Where this parser and ClusterShell's ``NodeSet`` both accept a set they expand it to the same
hosts, and everything ClusterShell refuses is refused here too (tests/test_nodeset_clustershell.py
checks both against ClusterShell itself). :data:`DELIBERATE_REFUSALS` lists what ClusterShell
accepts and this parser refuses on purpose.

The whole set may expand to at most :data:`MAX_HOSTS` names; the count is worked out from the
brackets before any list is built, so a short typo cannot fill memory. Every expanded name is
checked to be a plain host name (no leading ``-``: ssh would read it as an option), so nothing
else can reach a command line.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
"""A plain host name, matched with ``fullmatch``: never a leading ``-`` (an ssh option)."""
GROUP_NAME = re.compile(r"[A-Za-z0-9_-]+")
MAX_HOSTS = 100_000
"""Most names one node set may expand to (all terms together, ``!`` terms included)."""
MAX_DIGITS = 100
"""Longest number in a name or a range (ClusterShell refuses numbers above 1e100)."""

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: \d would let Arabic-Indic digits in
UNSUPPORTED_OPERATORS = {"&": "intersection", "^": "symmetric difference"}

DELIBERATE_REFUSALS: tuple[tuple[str, str], ...] = (
    ("n[1-3]&n[2-4]", "the '&' (intersection) and '^' (symmetric difference) operators"),
    ("n[1-3]^n[2-4]", "the '&' (intersection) and '^' (symmetric difference) operators"),
    ("", "an empty node set (ClusterShell reads it as no hosts)"),
    ("-v", "names that are not plain host names: a leading '-' (an ssh option), spaces, '@'"),
    ("n [1-2]", "names that are not plain host names: a leading '-' (an ssh option), spaces, '@'"),
    ("n[١-٣]", "numbers that are not plain ASCII digits: other scripts' digits, signs, '_'"),
    ("n[-1]", "numbers that are not plain ASCII digits: other scripts' digits, signs, '_'"),
    ("n[1_0]", "numbers that are not plain ASCII digits: other scripts' digits, signs, '_'"),
    ("n6[8-10]", "digits beside a bracket unless its numbers all have one width"),
    ("n[8-10]0", "digits beside a bracket unless its numbers all have one width"),
    ("n1[ 1-2 ]", "digits beside a bracket that holds spaces"),
    ("n[5/1]", "a step on a single number"),
    ("n[0-00]", "a range whose ends have different widths (ClusterShell lets n[0-00] by)"),
    ("n[]0", "an empty bracket or range (ClusterShell reads n[]0 as n0)"),
    ("n[1-100001]", f"sets of more than {MAX_HOSTS} hosts"),
)
"""(example, what) for each kind of set ClusterShell accepts and this parser refuses."""


class NodeSetError(ValueError):
    """A node set that cannot be parsed; the message says what and where."""


@dataclass(frozen=True)
class _Range:
    start: int
    stop: int  # inclusive
    step: int
    width: int  # zero padding; 0 for none

    @property
    def count(self) -> int:
        return (self.stop - self.start) // self.step + 1

    def widths(self) -> set[int]:
        last = self.start + (self.count - 1) * self.step
        return {max(self.width, len(str(self.start))), max(self.width, len(str(last)))}

    def values(self) -> Iterable[str]:
        return (str(n).zfill(self.width) for n in range(self.start, self.stop + 1, self.step))


@dataclass(frozen=True)
class _Bracket:
    ranges: tuple[_Range, ...]
    text: str  # as written, for messages and the "beside digits" checks

    @property
    def count(self) -> int:
        return sum(r.count for r in self.ranges)

    def values(self) -> list[str]:
        return [value for r in self.ranges for value in r.values()]


def _split_top_level(text: str) -> list[tuple[str, str]]:
    """Split on ``,`` and ``!`` outside brackets: [(operator before term, term)]."""
    parts: list[tuple[str, str]] = []
    inside = False
    current: list[str] = []
    operator = ","
    for position, char in enumerate(text, start=1):
        if char in UNSUPPORTED_OPERATORS:
            name = UNSUPPORTED_OPERATORS[char]
            raise NodeSetError(f"the {char!r} ({name}) operator is not supported, in {text!r}")
        if char == "[":
            if inside:
                raise NodeSetError(f"nested '[' at position {position} in {text!r}")
            inside = True
        elif char == "]":
            if not inside:
                raise NodeSetError(f"unbalanced ']' at position {position} in {text!r}")
            inside = False
        if char in ",!" and not inside:
            parts.append((operator, "".join(current)))
            operator = char
            current = []
        else:
            current.append(char)
    if inside:
        raise NodeSetError(f"unclosed '[' in {text!r}")
    parts.append((operator, "".join(current)))
    return parts


def _number(text: str, piece: str, term: str) -> str:
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        raise NodeSetError(
            f"bad range {piece!r} in {term!r} (expected N, N-M or N-M/S, digits 0-9)"
        )
    if len(text) > MAX_DIGITS:
        raise NodeSetError(f"number in {piece!r} in {term!r} is longer than {MAX_DIGITS} digits")
    return text


def _padding(text: str) -> int:
    return len(text) if len(text) > 1 and text.startswith("0") else 0


def _parse_range(piece: str, term: str) -> _Range:
    base, slash, step_text = piece.partition("/")
    step = int(_number(step_text, piece, term)) if slash else 1
    if step < 1:
        raise NodeSetError(f"step in {piece!r} in {term!r} must be at least 1")
    low_text, dash, high_text = base.partition("-")
    if not dash:
        if slash:
            raise NodeSetError(f"step in {piece!r} in {term!r} needs a range (N-M/S)")
        low = _number(low_text, piece, term)
        return _Range(int(low), int(low), 1, len(low))
    low, high = _number(low_text, piece, term), _number(high_text, piece, term)
    if (_padding(low) or _padding(high)) and len(low) != len(high):
        raise NodeSetError(f"range {piece!r} in {term!r}: the ends are padded to different widths")
    if int(high) < int(low):
        raise NodeSetError(f"range {piece!r} in {term!r} goes backwards")
    return _Range(int(low), int(high), step, _padding(low))


def _parse_bracket(text: str, term: str) -> _Bracket:
    ranges = []
    written = f"[{text}]"
    for piece in text.split(","):
        if not piece.strip():
            raise NodeSetError(f"empty range in {written!r} in {term!r}")
        ranges.append(_parse_range(piece.strip(), term))
    return _Bracket(tuple(ranges), text)


def _parse_term(term: str) -> list[str | _Bracket]:
    """``rack[1-2]-n[01-16]`` -> ["rack", Bracket, "-n", Bracket, ""]: text, bracket, text."""
    pieces = re.split(r"\[([^\]]*)\]", term)
    parts: list[str | _Bracket] = []
    for index, piece in enumerate(pieces):
        parts.append(_parse_bracket(piece, term) if index % 2 else piece)
    for index in range(2, len(parts) - 2, 2):
        between = parts[index]
        assert isinstance(between, str)
        if not between or _DIGITS.fullmatch(between):
            raise NodeSetError(f"brackets in {term!r} must be apart, with more than digits between")
    for index in range(1, len(parts), 2):
        bracket, before, after = parts[index], parts[index - 1], parts[index + 1]
        assert isinstance(bracket, _Bracket) and isinstance(before, str)
        assert isinstance(after, str)
        # ClusterShell glues digits beside a bracket onto its numbers (n6[8-10] is n68..n610),
        # which only reads as written when every number in it has one width.
        written = f"[{bracket.text}]"
        if _ends_in_digit(before) or _starts_with_digit(after):
            if len({w for r in bracket.ranges for w in r.widths()}) > 1:
                raise NodeSetError(
                    f"digits beside {written!r} in {term!r} are ambiguous: "
                    "its numbers differ in width"
                )
            if re.search(r"\s", bracket.text):
                raise NodeSetError(f"digits beside {written!r} in {term!r}: no spaces there")
        if _starts_with_digit(after) and "/" in bracket.text:
            raise NodeSetError(f"digits after a stepped range in {term!r} are ambiguous")
    return parts


def _ends_in_digit(text: str) -> bool:
    return bool(text) and text[-1] in "0123456789"


def _starts_with_digit(text: str) -> bool:
    return bool(text) and text[0] in "0123456789"


def _size(parts: list[str | _Bracket]) -> int:
    size = 1
    for part in parts:
        if isinstance(part, _Bracket):
            size *= part.count
    return size


def _names(parts: list[str | _Bracket]) -> list[str]:
    choices = [[part] if isinstance(part, str) else part.values() for part in parts]
    return ["".join(combination) for combination in itertools.product(*choices)]


def expand(text: str, groups: Callable[[str], Iterable[str]] | None = None) -> list[str]:
    """Expand a node set to host names, in order, without duplicates."""
    if not text.strip():
        raise NodeSetError("empty node set")
    terms: list[tuple[str, str, Callable[[], list[str]]]] = []
    total = 0
    for operator, raw in _split_top_level(text.strip()):
        term = raw.strip()
        if not term:
            raise NodeSetError(f"empty term in {text!r}")
        if term.startswith("@"):
            if not GROUP_NAME.fullmatch(term[1:]):
                raise NodeSetError(f"bad group name {term!r} (letters, digits, '-' and '_')")
            if groups is None:
                raise NodeSetError(f"group {term} used, but no inventory defines groups")
            members = list(groups(term[1:]))
            total += len(members)
            terms.append((operator, term, members.copy))
        else:
            parts = _parse_term(term)
            total += _size(parts)
            terms.append((operator, term, functools.partial(_names, parts)))
        # Counted before any list is built: n[1-99999],n[1-99999],... fails here, at once.
        if total > MAX_HOSTS:
            raise NodeSetError(f"{_shorten(text)!r} expands to more than {MAX_HOSTS} hosts")
    result: dict[str, None] = {}
    for operator, term, build in terms:
        names = build()
        for name in names:
            if not HOST_NAME.fullmatch(name):
                raise NodeSetError(f"{name!r} (from {term!r}) is not a valid host name")
            if any(len(run) > MAX_DIGITS for run in _DIGITS.findall(name)):
                raise NodeSetError(f"{name!r} holds a number longer than {MAX_DIGITS} digits")
        if operator == "!":
            for name in names:
                result.pop(name, None)
        else:
            result.update(dict.fromkeys(names))
    return list(result)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


_MAX_DIMENSIONS = 32
"""Names with more numbers than this are shown as they are, not folded."""


def fold(names: Iterable[str]) -> str:
    """The inverse, for display, in every dimension: ``comp-1-1`` .. ``comp-2-3`` ->
    ``comp-[1-2]-[1-3]``; ``node1,node2,node3,login`` -> ``login,node[1-3]``."""
    unique = set(names)
    plain = [name for name in unique if not _DIGITS.search(name)]
    split = {name: (_DIGITS.split(name), _DIGITS.findall(name)) for name in unique}
    padded: set[tuple[tuple[str, ...], int, int]] = set()
    for texts, numbers in split.values():
        for dimension, number in enumerate(numbers):
            if _padding(number):
                padded.add((tuple(texts), dimension, len(number)))
    # (texts between numbers, width of each number) -> the numbers of each name like that
    shapes: dict[tuple[tuple[str, ...], tuple[int, ...]], set[tuple[int, ...]]] = {}
    for name, (texts, numbers) in split.items():
        if not numbers:
            continue
        if len(numbers) > _MAX_DIMENSIONS:
            plain.append(name)
            continue
        # An unpadded number joins padded ones of its width (n09, n10 -> n[09-10]).
        widths = tuple(
            len(number) if _padding(number) or (tuple(texts), d, len(number)) in padded else 0
            for d, number in enumerate(numbers)
        )
        vector = tuple(int(number) for number in numbers)
        shapes.setdefault((tuple(texts), widths), set()).add(vector)
    folded = list(plain)
    for (between, widths), vectors in shapes.items():
        for box in _boxes(vectors, len(widths)):
            written: list[str] = [between[0]]
            for values, width, text in zip(box, widths, between[1:], strict=True):
                written.append(_ranges(values, width))
                written.append(text)
            folded.append("".join(written))
    return ",".join(sorted(folded))


def _boxes(vectors: set[tuple[int, ...]], dimensions: int) -> list[list[list[int]]]:
    """Cover the vectors exactly with products of sets, one set per dimension: the names
    that share every number but the last fold first, then those lists fold the rest."""
    if dimensions == 1:
        return [[sorted(vector[0] for vector in vectors)]]
    lasts: dict[tuple[int, ...], set[int]] = {}
    for vector in vectors:
        lasts.setdefault(vector[:-1], set()).add(vector[-1])
    heads: dict[frozenset[int], set[tuple[int, ...]]] = {}
    for head, last in lasts.items():
        heads.setdefault(frozenset(last), set()).add(head)
    return [
        [*box, sorted(last)] for last, same in heads.items() for box in _boxes(same, dimensions - 1)
    ]


def _ranges(numbers: list[int], width: int) -> str:
    """[1, 2, 3, 5] -> ``[1-3,5]``; a single number is written as it is."""
    if len(numbers) == 1:
        return str(numbers[0]).zfill(width)
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
    return f"[{','.join(ranges)}]"
