"""The one cleaning step for text that other people control.

Host names, command lines, Slurm job names and reasons, Kubernetes object names, config
values, SSH disconnect messages: all of it is decoded somewhere and then shown in a terminal.
A raw ESC, OSC or C1 byte would drive that terminal (OSC 52 writes the operator's clipboard),
a bidi override would make ``rm`` read as ``mr``, and a megabyte of text would cost memory in
every snapshot that keeps it. :func:`clean` turns every such string into plain, printable,
bounded text once, where it enters; screens then render it as text, never as markup.

Control characters are shown, not dropped (``\\x1b`` becomes ``␛`` style pictures), so an
operator can still see that a host sent something odd. Headless: no Textual, no Rich.

Host samples are cleaned as a whole, where they are decoded, by :func:`clean_strings`: a
walk over the decoded structs. It is complete by construction: it visits every field whose
declared type can hold text (only numbers, flags and ``Literal`` fields, which msgspec has
already checked against their constants, are skipped), and every tuple item, dict key and
value below, so a string field added to the model later is cleaned without anyone listing it.
Why not earlier: msgspec calls no hook for ``str``, and rewriting escapes in the raw JSON
cannot bound lengths. The walk costs two to four times the decode (bench/decode.py, 8-GPU
sample: decode about 25 us, walk about 50-90 us), so a probe's line is first checked by
:func:`plain_json`: a JSON document that is pure ASCII, with no backslash, no DEL and no run
of ``MAX_TEXT`` bytes without a quote, cannot decode to a string that :func:`clean` would
change (JSON forbids raw control characters in strings, so each arrives as a backslash
escape, as does every non-ASCII character from the probe, which writes ASCII-only JSON).
Such a line, the usual one, skips the walk; the check is a few C-level byte scans (about
3 us). A line with any escape (a quote in a command line, a non-ASCII name) is walked.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any, TypeVar

import msgspec

MAX_TEXT = 4096
"""Default bound for one string from outside (a command line, a reason, a job name)."""

MAX_REASON = 1000
"""Bound for a one-line reason (what went wrong and where), which often quotes a host."""

ELLIPSIS = "…"

# C0 controls (but not TAB, handled below), DEL, the C1 range, and the Unicode line and
# paragraph separators (str.splitlines() breaks on them). Each is shown as the Unicode
# "control picture" for C0/DEL, or as an escape like \x9b or \u2028 for the others.
_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# Bidi embeddings, overrides and isolates, and the invisible marks that steer them: removed,
# since shown or not they reorder the text around them.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Lone surrogates cannot be encoded to UTF-8: printing one would raise, so it becomes U+FFFD.
_SURROGATES = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def _picture(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ .. ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    if code > 0xFF:
        return f"\\u{code:04x}"
    return f"\\x{code:02x}"


def clean(value: str, limit: int = MAX_TEXT) -> str:
    """Printable, single-line, bidi-free text of at most ``limit`` characters.

    Tabs become spaces; other controls become visible pictures; bidi controls are removed;
    lone surrogates become U+FFFD; text over the limit is cut and ends in an ellipsis, so a
    cut is visible. Cleaning clean text changes nothing (``clean(clean(s)) == clean(s)``).
    """
    if len(value) <= limit and value.isprintable():
        # isprintable() is False for every character handled below (controls, bidi marks
        # and surrogates are all in Unicode's "Other" or "Separator" categories).
        return value
    if len(value) > limit * 4:
        value = value[: limit * 4]  # bound the work before the regexes run
    value = value.replace("\t", " ")
    if _BIDI.search(value):
        value = _BIDI.sub("", value)
    if _CONTROLS.search(value):
        value = _CONTROLS.sub(_picture, value)
    if _SURROGATES.search(value):
        value = _SURROGATES.sub(REPLACEMENT, value)
    if len(value) > limit:
        value = value[: max(limit - 1, 0)] + ELLIPSIS
    return value


def is_clean(value: str) -> bool:
    """True if ``value`` has no control, bidi or surrogate character (tabs included)."""
    return (
        "\t" not in value
        and not _CONTROLS.search(value)
        and not _BIDI.search(value)
        and not _SURROGATES.search(value)
    )


# -- whole documents ----------------------------------------------------------------------------

_UNSAFE_BYTES = (b"\\", b"\x7f")


def plain_json(document: bytes, limit: int = MAX_TEXT) -> bool:
    """True if no string decoded from this JSON ``document`` can need :func:`clean`.

    Conservative: False only means "walk the decoded value". Why True is safe: a JSON string
    holds no raw byte below 0x20, so a control character needs a backslash escape, as does
    any character outside ASCII in an ASCII document (a bidi mark, a C1 control, a
    surrogate); DEL is the one ASCII control allowed raw. With no backslash, every string is
    the bytes between two quotes, so a string longer than ``limit`` is a run of more than
    ``limit`` bytes with no quote, and such a run contains a whole aligned block of
    ``limit // 2`` bytes without one: finding a quote in every block rules it out.
    """
    if not document.isascii() or any(byte in document for byte in _UNSAFE_BYTES):
        return False
    block = max(limit // 2, 1)
    return all(
        document.find(b'"', start, start + block) != -1
        for start in range(0, len(document) - block + 1, block)
    )


T = TypeVar("T")


def clean_strings(value: T, limit: int = MAX_TEXT) -> T:
    """``value`` with every string inside it cleaned (returned as is when nothing changes).

    Walks msgspec structs (every field), tuples, lists and dicts (keys and values); other
    values (numbers, booleans, None) have no text. Structs are frozen, so a struct whose
    strings change is rebuilt with :func:`msgspec.structs.replace`.
    """
    return _clean_any(value, limit)  # type: ignore[no-any-return]


def _clean_any(value: Any, limit: int) -> Any:
    # Hot on the walked path (a hundred-odd strings per 8-GPU sample): clean text is
    # recognised inline and unchanged containers are returned as they are, not copied.
    kind = type(value)
    if kind is str:
        return value if len(value) <= limit and value.isprintable() else clean(value, limit)
    if kind is int or kind is float or kind is bool or value is None:
        return value
    if isinstance(value, msgspec.Struct):
        changes = {}
        for field in _text_fields(type(value)):
            old = getattr(value, field)
            new = _clean_any(old, limit)
            if new is not old:
                changes[field] = new
        return msgspec.structs.replace(value, **changes) if changes else value
    if kind is tuple or kind is list:
        items: list[Any] | None = None
        for at, old in enumerate(value):
            new = _clean_any(old, limit)
            if new is not old and items is None:
                items = list(value[:at])
            if items is not None:
                items.append(new)
        return value if items is None else kind(items)
    if kind is dict:
        pairs: dict[Any, Any] | None = None
        for at, (old_key, old) in enumerate(value.items()):
            key, new = _clean_any(old_key, limit), _clean_any(old, limit)
            if (key is not old_key or new is not old) and pairs is None:
                pairs = dict(list(value.items())[:at])
            if pairs is not None:
                pairs[key] = new
        return value if pairs is None else pairs
    raise TypeError(f"clean_strings: no rule for {kind.__name__}")


_TEXTLESS = frozenset({"int", "float", "bool", "None", "..."})


@functools.cache
def _text_fields(cls: type[msgspec.Struct]) -> tuple[str, ...]:
    """The fields of ``cls`` whose type can hold text: the walk skips numbers and flags.

    Read from the declared annotations as written (the model postpones them), not by
    evaluating them: evaluating every type of the model is a tenth of a one-shot snapshot's
    start-up. An annotation not recognised as textless is walked, so a field added later, or
    written in an unusual way, costs a little time and never a string left uncleaned; values
    were validated against those types when they were decoded.
    """
    annotations: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        annotations.update(inspect.get_annotations(klass))  # as written: not evaluated
    return tuple(name for name in cls.__struct_fields__ if not _textless(annotations.get(name)))


def _textless(annotation: object) -> bool:
    """``int | None``, ``Literal[...]`` (validated against its own constants), tuples and
    lists of those (``Annotated`` or not): types that cannot hold text."""
    if not isinstance(annotation, str):
        return False
    return all(_textless_member(member) for member in _top_level(annotation, "|"))


def _textless_member(member: str) -> bool:
    if member in _TEXTLESS or (member.startswith("Literal[") and member.endswith("]")):
        return True
    for container in ("Annotated[", "tuple[", "list["):
        if member.startswith(container) and member.endswith("]"):
            items = _top_level(member[len(container) : -1], ",")
            if container == "Annotated[":
                items = items[:1]  # the type; the rest is metadata
            return all(_textless(item) for item in items)
    return False


def _top_level(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside brackets and parentheses, parts stripped."""
    parts, depth, start = [], 0, 0
    for at, char in enumerate(text):
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:at].strip())
            start = at + 1
    parts.append(text[start:].strip())
    return parts
