"""Recent history of each GPU's utilisation and power, for the host screen's sparklines.

The console keeps this itself (the probe sends only the present), fixed-size and compact: a
float32 ring per GPU per metric, so 1,024 hosts of 8 GPUs cost about 12 MB at the default
window, whatever the uptime.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator

from aiconsole.model import FleetSnapshot

HISTORY_POINTS = 180
"""Samples kept per GPU: three minutes at the default one-second interval."""


class Ring:
    """The last ``size`` values, oldest first; NaN marks a sample without a value."""

    __slots__ = ("_count", "_next", "_values")

    def __init__(self, size: int) -> None:
        self._values = array("f", [math.nan]) * size
        self._next = 0
        self._count = 0

    def append(self, value: float | None) -> None:
        self._values[self._next] = math.nan if value is None else value
        self._next = (self._next + 1) % len(self._values)
        self._count = min(self._count + 1, len(self._values))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[float]:
        size = len(self._values)
        start = (self._next - self._count) % size
        for offset in range(self._count):
            yield self._values[(start + offset) % size]


class GpuHistory:
    """Per (host, GPU index): utilisation % and power W, one point per new sample."""

    def __init__(self, points: int = HISTORY_POINTS) -> None:
        self.points = points
        self._util: dict[tuple[str, int], Ring] = {}
        self._power: dict[tuple[str, int], Ring] = {}
        self._last_seen: dict[str, tuple[float, int]] = {}

    def record(self, snapshot: FleetSnapshot) -> None:
        """Add the samples in ``snapshot`` not recorded yet (a refresh without news adds none)."""
        for state in snapshot.hosts:
            sample = state.sample
            if sample is None or sample.gpu.status != "ok":
                continue
            stamp = (sample.collected_at, sample.seq)
            if self._last_seen.get(state.name) == stamp:
                continue
            self._last_seen[state.name] = stamp
            for gpu in sample.gpu.gpus:
                if gpu.lost:
                    self.add(state.name, gpu.index, None, None)
                else:
                    self.add(state.name, gpu.index, gpu.util_gpu_percent, gpu.power_draw_w)

    def add(self, host: str, index: int, util: float | None, power: float | None) -> None:
        key = (host, index)
        if key not in self._util:
            self._util[key] = Ring(self.points)
            self._power[key] = Ring(self.points)
        self._util[key].append(util)
        self._power[key].append(power)

    def utilisation(self, host: str, index: int) -> list[float]:
        return list(self._util.get((host, index), ()))

    def power(self, host: str, index: int) -> list[float]:
        return list(self._power.get((host, index), ()))
