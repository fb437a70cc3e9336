"""Fixed-size, quantised columns of samples: the storage under :mod:`aiconsole.history`.

An hour of one-second samples for a thousand hosts of eight GPUs is some 30 million values,
so each metric is kept in the fewest bytes its range allows: percentages and temperatures in
one byte, everything else as an IEEE half float (2 bytes, 11 significant bits: 0.05 % of the
value, plenty for a chart) in a unit chosen so the range fits (GiB, W, GB/s). A slot with no
value (a lost sample, a GPU not read) holds a marker that reads back as NaN, so gaps stay gaps.
"""

from __future__ import annotations

import math
import struct
from typing import ClassVar, TypeAlias

import msgspec

MISSING_BYTE = 255
"""The one-byte columns' marker for "no value"."""

_HALF_MAX = 65504.0
_NAN = math.nan


def _spans(start: int, count: int, size: int) -> list[tuple[int, int]]:
    """The one or two contiguous (offset, length) runs of a wrapping range of slots."""
    start %= size
    first = min(count, size - start)
    runs = [(start, first)]
    if count > first:
        runs.append((0, count - first))
    return runs


class ByteTrack(msgspec.Struct, gc=False):
    """Values in ``0 .. 254 / per_unit`` in one byte each: ``per_unit`` steps per unit (2 for
    half-percent utilisation, 1 for whole degrees); out-of-range values are clamped."""

    size: int
    per_unit: float
    _data: bytearray = msgspec.field(default_factory=bytearray)
    bytes_per_slot: ClassVar[int] = 1

    def __post_init__(self) -> None:
        self._data = bytearray([MISSING_BYTE]) * self.size

    @property
    def nbytes(self) -> int:
        return self.size * self.bytes_per_slot

    def put(self, slot: int, value: float | None) -> None:
        if value is None or value != value:
            self._data[slot % self.size] = MISSING_BYTE
            return
        self._data[slot % self.size] = min(254, max(0, round(value * self.per_unit)))

    def clear(self, start: int, count: int) -> None:
        for offset, length in _spans(start, min(count, self.size), self.size):
            self._data[offset : offset + length] = bytes([MISSING_BYTE]) * length

    def read(self, start: int, count: int) -> list[float]:
        scale = 1 / self.per_unit
        values: list[float] = []
        for offset, length in _spans(start, count, self.size):
            values.extend(
                _NAN if byte == MISSING_BYTE else byte * scale
                for byte in self._data[offset : offset + length]
            )
        return values


class HalfTrack(msgspec.Struct, gc=False):
    """Half floats of ``value / unit``: e.g. ``unit = 2**30`` keeps bytes as GiB. Values past
    the half float's range are clamped to it (65,504 units), never stored as infinity."""

    size: int
    unit: float = 1.0
    _data: bytearray = msgspec.field(default_factory=bytearray)
    bytes_per_slot: ClassVar[int] = 2

    def __post_init__(self) -> None:
        self._data = bytearray(struct.pack("<e", _NAN)) * self.size

    @property
    def nbytes(self) -> int:
        return self.size * self.bytes_per_slot

    def put(self, slot: int, value: float | None) -> None:
        if value is None or value != value:
            stored = _NAN
        else:
            stored = min(_HALF_MAX, max(-_HALF_MAX, value / self.unit))
        struct.pack_into("<e", self._data, 2 * (slot % self.size), stored)

    def clear(self, start: int, count: int) -> None:
        for offset, length in _spans(start, min(count, self.size), self.size):
            self._data[2 * offset : 2 * (offset + length)] = struct.pack("<e", _NAN) * length

    def read(self, start: int, count: int) -> list[float]:
        unit = self.unit
        values: list[float] = []
        for offset, length in _spans(start, count, self.size):
            halves = struct.unpack_from(f"<{length}e", self._data, 2 * offset)
            values.extend(half * unit for half in halves)
        return values


Track: TypeAlias = ByteTrack | HalfTrack
"""One metric's ring of ``size`` slots; callers choose the slot, the track stores it
(``put``, ``clear``, ``read``, ``nbytes``).

Tracks are structs left out of the cyclic garbage collector (``gc=False``: they hold a size,
a scale and a bytearray, so they cannot be part of a cycle). A fleet's history is hundreds
of thousands of them; as ordinary objects each full collection walked them all, a pause of
a tenth of a second at 10,000 hosts that landed on a screen refresh."""
