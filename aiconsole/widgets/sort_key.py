"""Order table cells as a reader expects: numbers by value with their units, durations by
length, text naturally (``gpu-node-9`` before ``gpu-node-10``), and missing values last
whichever the direction."""

from __future__ import annotations

import re

from aiconsole import units

_SCALE = {"": 1.0, "K": 1024.0, "M": 1024.0**2, "G": 1024.0**3, "T": 1024.0**4, "P": 1024.0**5}
_QUANTITY = re.compile(r"([-+]?\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?(?:/s|W|%|C)?")
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?")
_KILO_WATTS = re.compile(r"(\d+(?:\.\d+)?)kW")
_PARTS = re.compile(r"(\d+(?:\.\d+)?)")
MISSING = ("", units.NA, "-")

SortKey = tuple[int, tuple[tuple[int, float, str], ...]]


def sort_key(text: str, *, descending: bool = False) -> SortKey:
    """The key of a cell's text; pass the direction so a missing value sorts last in both."""
    text = text.strip()
    if text in MISSING:
        return (0 if descending else 1, ())
    present = 1 if descending else 0
    return (present, _value(text))


def _value(text: str) -> tuple[tuple[int, float, str], ...]:
    if match := _KILO_WATTS.fullmatch(text):
        return ((0, float(match.group(1)) * 1000, ""),)
    if (match := _DURATION.fullmatch(text)) and any(match.groups()):
        days, hours, minutes, seconds = (float(part or 0) for part in match.groups())
        return ((0, ((days * 24 + hours) * 60 + minutes) * 60 + seconds, ""),)
    if match := _QUANTITY.fullmatch(text):
        return ((0, float(match.group(1)) * _SCALE[match.group(2)], ""),)
    # Natural order: the digits of a name compare as numbers.
    return tuple(
        (0, float(part), "") if index % 2 else (1, 0.0, part.lower())
        for index, part in enumerate(_PARTS.split(text))
        if part
    )
