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
from abc import ABC, abstractmethod

MISSING_BYTE = 255
"""The one-byte columns' marker for "no value"."""

_HALF_MAX = 65504.0
_NAN = math.nan


class Track(ABC):
    """One metric's ring of ``size`` slots; callers choose the slot, the track stores it."""

    bytes_per_slot = 0

    def __init__(self, size: int) -> None:
        self.size = size

    @property
    def nbytes(self) -> int:
        return self.size * self.bytes_per_slot

    @abstractmethod
    def put(self, slot: int, value: float | None) -> None:
        """Store ``value`` (None: no value) in ``slot``."""

    @abstractmethod
    def clear(self, start: int, count: int) -> None:
        """Mark ``count`` slots from ``start`` (wrapping) as without value."""

    @abstractmethod
    def read(self, start: int, count: int) -> list[float]:
        """``count`` values from slot ``start`` on (wrapping), NaN where there was none."""


def _spans(start: int, count: int, size: int) -> list[tuple[int, int]]:
    """The one or two contiguous (offset, length) runs of a wrapping range of slots."""
    start %= size
    first = min(count, size - start)
    runs = [(start, first)]
    if count > first:
        runs.append((0, count - first))
    return runs


class ByteTrack(Track):
    """Values in ``0 .. 254 / per_unit`` in one byte each: ``per_unit`` steps per unit (2 for
    half-percent utilisation, 1 for whole degrees); out-of-range values are clamped."""

    bytes_per_slot = 1

    def __init__(self, size: int, per_unit: float) -> None:
        super().__init__(size)
        self.per_unit = per_unit
        self._data = bytearray([MISSING_BYTE]) * size

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


class HalfTrack(Track):
    """Half floats of ``value / unit``: e.g. ``unit = 2**30`` keeps bytes as GiB. Values past
    the half float's range are clamped to it (65,504 units), never stored as infinity."""

    bytes_per_slot = 2

    def __init__(self, size: int, unit: float = 1.0) -> None:
        super().__init__(size)
        self.unit = unit
        self._data = bytearray(struct.pack("<e", _NAN)) * size

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
