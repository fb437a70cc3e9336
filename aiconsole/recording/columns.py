"""One path's changes within a chunk, stored as a column that compresses well.

A column is a JSON list ``[frames, codec, payload]``:

- ``frames``: the chunk-local frame numbers of the changes: an integer ``n`` for "every frame
  from 1 to n" (the usual case: a value that moves each second), else the gaps between
  them (``[3, 4, 5]`` is frames 3, 7, 12).
- ``codec`` ``"r"``: payload is the values as they are; ``["-"]`` marks a deletion (no leaf is
  a non-empty list, so it cannot be mistaken for a value).
- ``"i"``/``"I"``: integers: payload ``[g, d1, d2, ...]``, each value being the previous one
  plus ``g * d``; ``"i"`` starts from the keyframe's value of the path, ``"I"`` from 0. ``g``
  is the differences' greatest common divisor: memory moves in pages of 4 KiB or in MiB, and
  dividing it out leaves a few digits per change.
- ``"f"``/``"F"``: floats as decimals: payload ``[exp, d1, d2, ...]``, each value being
  ``m * 10**exp`` with ``m`` the running sum of the ``d``; ``"f"`` starts from the keyframe's
  value. Decimal digits come from ``repr``, the shortest text that reads back as the same
  float, so the round trip is exact; differences of a counter like ``energy_j`` or a clock
  like ``collected_at`` are a few digits where the values are ten or more.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from itertools import accumulate
from typing import Any

from aiconsole.recording.flat import DELETED, ShapeError

DELETION = ["-"]
NO_CHANGE = object()
"""What :func:`value_at` returns when the column has no change at or before the frame."""


def _decimal(value: float) -> tuple[int, int] | None:
    """``value`` as ``(m, exp)`` with ``value == float(f"{m}e{exp}")``; None when it has no
    such form (infinities, NaN, and -0.0, whose sign an integer cannot keep)."""
    if not math.isfinite(value) or (value == 0.0 and math.copysign(1.0, value) < 0):
        return None
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    return int(whole + fraction), int(exponent or 0) - len(fraction)


def encode(frames: list[int], values: list[Any], base: Any) -> list[Any]:
    """The column for these changes; ``base`` is the keyframe's leaf at the path, or
    ``DELETED`` when the keyframe has none."""
    if frames == list(range(1, len(frames) + 1)):
        spec: Any = len(frames)
    else:
        spec = [b - a for a, b in zip([0, *frames], frames, strict=False)]
    if all(type(v) is int for v in values):
        origin = base if type(base) is int else 0
        deltas = [b - a for a, b in zip([origin, *values], values, strict=False)]
        step = math.gcd(*deltas) or 1
        return [spec, "i" if type(base) is int else "I", [step, *(d // step for d in deltas)]]
    if all(type(v) is float for v in values):
        parts = [_decimal(v) for v in values]
        start = _decimal(base) if type(base) is float else None
        if all(p is not None for p in parts):
            known = [p for p in parts if p is not None]
            exp = min(e for _, e in [*known, *([start] if start is not None else [])])
            scaled = [m * 10 ** (e - exp) for m, e in known]
            first = start[0] * 10 ** (start[1] - exp) if start is not None else 0
            deltas = [b - a for a, b in zip([first, *scaled], scaled, strict=False)]
            return [spec, "f" if start is not None else "F", [exp, *deltas]]
    return [spec, "r", [DELETION if v is DELETED else v for v in values]]


Column = tuple[int | list[int], str, list[Any]]
"""The type a reader decodes columns into: msgspec checks the frame lists in C."""


def frames_of(column: Column) -> list[int]:
    spec = column[0]
    if type(spec) is int:
        return list(range(1, spec + 1))
    if type(spec) is list and spec and min(spec) > 0:
        return list(accumulate(spec))
    raise ShapeError("bad frame list in a column")


def needs_base(column: Column) -> bool:
    return column[1] in ("i", "f")


def value_at(column: Column, frames: list[int], frame: int, base: Any) -> Any:
    """The path's value at chunk-local ``frame``: its last change at or before it, or
    :data:`NO_CHANGE`. ``base`` is the keyframe's leaf (for the ``i`` and ``f`` codecs)."""
    at = bisect_right(frames, frame)
    if at == 0:
        return NO_CHANGE
    codec, payload = column[1], column[2]
    if codec == "r":
        _check_length(payload, frames)
        value = payload[at - 1]
        return DELETED if value == DELETION else value
    if codec in ("i", "I") and payload and type(payload[0]) is int:
        step, deltas = payload[0], payload[1:]
        _check_length(deltas, frames)
        start = base if codec == "i" else 0
        total = sum(deltas[:at], 0)
        if type(total) is not int or type(start) is not int:
            raise ShapeError("integer column on a value that is not an integer")
        return start + step * total
    if codec in ("f", "F") and payload and type(payload[0]) is int:
        exp, deltas = payload[0], payload[1:]
        _check_length(deltas, frames)
        start = 0
        if codec == "f":
            parts = _decimal(base) if type(base) is float else None
            if parts is None or parts[1] < exp:
                raise ShapeError("decimal column on a value that is not a float")
            start = parts[0] * 10 ** (parts[1] - exp)
        mantissa = sum(deltas[:at], start)
        if type(mantissa) is not int or abs(exp) > 400:
            raise ShapeError("bad decimal column")
        return float(f"{mantissa}e{exp}")
    raise ShapeError(f"unknown column codec {codec!r}")


def _check_length(payload: list[Any], frames: list[int]) -> None:
    if len(payload) != len(frames):
        raise ShapeError("a column's values and frames differ in number")
