"""Recent history of each GPU's utilisation and power, for the host screen's sparklines.

The console keeps this itself (the probe sends only the present), fixed-size and compact: a
float32 ring per GPU per metric, so 1,024 hosts of 8 GPUs cost about 12 MB at the default
window, whatever the uptime.

Bounded per host whatever a host sends: only the GPUs of a host's latest sample keep a
history (a GPU that vanishes from it is forgotten at once), and a sample holds at most
:data:`~aiconsole.model.MAX_GPUS` GPUs, so a host that announces new GPU indices on every
sample costs no more than one with that many GPUs.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator

from aiconsole.model import MAX_GPUS, FleetSnapshot

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
        self._hosts: dict[str, dict[int, tuple[Ring, Ring]]] = {}
        """Host -> GPU index -> (utilisation, power) rings."""
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
            gpus = sample.gpu.gpus[:MAX_GPUS]
            self.forget_others(state.name, {gpu.index for gpu in gpus})
            for gpu in gpus:
                if gpu.lost:
                    self.add(state.name, gpu.index, None, None)
                else:
                    self.add(state.name, gpu.index, gpu.util_gpu_percent, gpu.power_draw_w)

    def forget_others(self, host: str, keep: set[int]) -> None:
        """Drop the history of the host's GPUs not in ``keep`` (they left its sample)."""
        rings = self._hosts.get(host)
        if rings is not None and not rings.keys() <= keep:
            self._hosts[host] = {index: pair for index, pair in rings.items() if index in keep}

    def add(self, host: str, index: int, util: float | None, power: float | None) -> None:
        rings = self._hosts.setdefault(host, {})
        pair = rings.get(index)
        if pair is None:
            if len(rings) >= MAX_GPUS:
                return  # bounded per host, whatever the caller passes
            pair = rings[index] = (Ring(self.points), Ring(self.points))
        pair[0].append(util)
        pair[1].append(power)

    def gpus(self, host: str) -> list[int]:
        """The GPU indices of ``host`` that have a history."""
        return list(self._hosts.get(host, ()))

    def utilisation(self, host: str, index: int) -> list[float]:
        pair = self._hosts.get(host, {}).get(index)
        return list(pair[0]) if pair else []

    def power(self, host: str, index: int) -> list[float]:
        pair = self._hosts.get(host, {}).get(index)
        return list(pair[1]) if pair else []
