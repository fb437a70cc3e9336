"""What each host and GPU did over the last window (an hour by default), kept by the console.

The probe sends only the present; the console keeps the past itself, in fixed-size rings of
quantised values (:mod:`aiconsole.history.tracks`), one slot per refresh interval on the
console's clock. A sample lands in the slot of the time it arrived; slots no sample reached
stay empty, so a host that went quiet shows a gap, not a flat line drawn across the outage.

Memory is bounded and known in advance (:func:`bytes_needed`): a slot costs
:data:`HOST_SLOT_BYTES` per host and :data:`GPU_SLOT_BYTES` per GPU, only the GPUs of a host's
latest sample keep a history (at most :data:`~aiconsole.model.MAX_GPUS`), and hosts that leave
the fleet are forgotten.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from aiconsole.history.tracks import ByteTrack, HalfTrack, Track
from aiconsole.model import MAX_GPUS, FleetSnapshot, HostSample

DEFAULT_WINDOW_S = 3600.0
"""How far back the history reaches unless ``[history] window`` says otherwise."""

GIB = float(2**30)
GB = 1e9

HOST_TRACKS: dict[str, Callable[[int], Track]] = {
    "cpu": lambda size: ByteTrack(size, per_unit=2),  # half a percent
    "memory": lambda size: HalfTrack(size, unit=GIB),  # bytes, kept as GiB
    "net_rx": lambda size: HalfTrack(size, unit=GB),  # bytes/s, kept as GB/s
    "net_tx": lambda size: HalfTrack(size, unit=GB),
    "ib_rx": lambda size: HalfTrack(size, unit=GB),
    "ib_tx": lambda size: HalfTrack(size, unit=GB),
}
"""Per host: CPU %, memory used (bytes), physical NIC and InfiniBand rates (bytes/s)."""

GPU_TRACKS: dict[str, Callable[[int], Track]] = {
    "util": lambda size: ByteTrack(size, per_unit=2),  # half a percent
    "memory": lambda size: HalfTrack(size, unit=GIB),  # bytes, kept as GiB
    "power": lambda size: HalfTrack(size),  # W
    "temperature": lambda size: ByteTrack(size, per_unit=1),  # whole degrees C
}
"""Per GPU: utilisation %, memory used (bytes), power (W), temperature (C)."""


def _slot_bytes(tracks: dict[str, Callable[[int], Track]]) -> int:
    return sum(make(1).bytes_per_slot for make in tracks.values())


HOST_SLOT_BYTES = _slot_bytes(HOST_TRACKS)
GPU_SLOT_BYTES = _slot_bytes(GPU_TRACKS)


def slots_for(window_s: float, interval_s: float) -> int:
    """Slots that hold ``window_s`` of samples taken every ``interval_s``."""
    return max(2, math.ceil(window_s / interval_s))


def bytes_needed(hosts: int, gpus_per_host: int, window_s: float, interval_s: float) -> int:
    """The history's sample storage for a fleet, in bytes (objects around it are extra: a few
    hundred bytes per host and GPU, whatever the window)."""
    per_host = HOST_SLOT_BYTES + gpus_per_host * GPU_SLOT_BYTES
    return hosts * slots_for(window_s, interval_s) * per_host


class Series:
    """One metric over a span: ``values[i]`` is the slot ending ``(len - 1 - i) * step``
    seconds before ``end``; NaN where no sample arrived.

    A plain class, not a dataclass: building one costs the console's start-up 2 ms."""

    __slots__ = ("end", "step", "values")

    def __init__(self, values: list[float], step: float, end: float) -> None:
        self.values = values
        self.step = step
        self.end = end


def _host_values(sample: HostSample) -> dict[str, float | None]:
    nics = [nic for nic in sample.nics if not nic.virtual]  # bonds and bridges count twice
    return {
        "cpu": sample.cpu.total_percent,
        "memory": sample.memory.used_bytes,
        "net_rx": _total(nic.rx_bytes_per_s for nic in nics),
        "net_tx": _total(nic.tx_bytes_per_s for nic in nics),
        "ib_rx": _total(port.rx_bytes_per_s for port in sample.ib_ports),
        "ib_tx": _total(port.tx_bytes_per_s for port in sample.ib_ports),
    }


def _total(values: Iterable[float | None]) -> float | None:
    """The sum of the known values; None when none is known (not a made-up zero)."""
    known = [value for value in values if value is not None]
    return sum(known) if known else None


class HostRecord:
    """One host's rings: its own tracks and one set per GPU, all sharing the head slot."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.head: int | None = None
        """The newest slot written (a slot number on the console's clock, not a position)."""
        self.first = 0
        """The oldest slot written since the rings were last emptied."""
        self.tracks = {name: make(size) for name, make in HOST_TRACKS.items()}
        self.gpus: dict[int, dict[str, Track]] = {}

    def all_tracks(self) -> Iterable[Track]:
        yield from self.tracks.values()
        for gpu in self.gpus.values():
            yield from gpu.values()

    @property
    def nbytes(self) -> int:
        return sum(track.nbytes for track in self.all_tracks())

    def advance(self, slot: int) -> bool:
        """Make ``slot`` the head, emptying the slots skipped; False if it is in the past."""
        if self.head is None or slot - self.head >= self.size:
            for track in self.all_tracks():
                track.clear(0, self.size)
            self.first = slot
        elif slot < self.head:
            return False  # the console's clock stepped back: keep what is there
        elif slot > self.head + 1:
            for track in self.all_tracks():
                track.clear(self.head + 1, slot - self.head - 1)
        self.head = slot
        return True

    def gpu_tracks(self, index: int) -> dict[str, Track] | None:
        tracks = self.gpus.get(index)
        if tracks is None and len(self.gpus) < MAX_GPUS:
            tracks = self.gpus[index] = {name: make(self.size) for name, make in GPU_TRACKS.items()}
        return tracks

    def read(self, tracks: dict[str, Track], metric: str, end_slot: int, count: int) -> list[float]:
        """``count`` slots ending at ``end_slot``; slots this record never held are NaN."""
        track = tracks[metric]
        first = end_slot - count + 1
        if self.head is None:
            return [math.nan] * count
        held_from = max(first, self.head - self.size + 1)
        held_to = min(end_slot, self.head)
        if held_to < held_from:
            return [math.nan] * count
        before = [math.nan] * (held_from - first)
        after = [math.nan] * (end_slot - held_to)
        return before + track.read(held_from, held_to - held_from + 1) + after


RECENT_POINTS = 180
"""Samples :meth:`History.utilisation` and :meth:`History.power` give: the fleet screen's
three minutes at the default interval."""


class History:
    """Every host's and GPU's recent past; :meth:`record` each published snapshot."""

    def __init__(self, window_s: float = DEFAULT_WINDOW_S, interval_s: float = 1.0) -> None:
        self.window_s = window_s
        self.interval_s = interval_s
        self.size = slots_for(window_s, interval_s)
        self._hosts: dict[str, HostRecord] = {}
        self._last_seen: dict[str, tuple[float, int]] = {}

    @property
    def nbytes(self) -> int:
        """Bytes of sample storage held now (:func:`bytes_needed` for this fleet at most)."""
        return sum(record.nbytes for record in self._hosts.values())

    def slot(self, at: float) -> int:
        return math.floor(at / self.interval_s)

    def record(self, snapshot: FleetSnapshot) -> None:
        """Add the samples in ``snapshot`` not recorded yet (a refresh without news adds none)."""
        names = {state.name for state in snapshot.hosts}
        for gone in [name for name in self._hosts if name not in names]:
            del self._hosts[gone]  # left the fleet: its history goes with it
            self._last_seen.pop(gone, None)
        for state in snapshot.hosts:
            sample = state.sample
            if sample is None:
                continue
            stamp = (sample.collected_at, sample.seq)
            if self._last_seen.get(state.name) == stamp:
                continue
            self._last_seen[state.name] = stamp
            at = snapshot.generated_at if state.received_at is None else state.received_at
            self.add_sample(state.name, sample, at)

    def add_sample(self, host: str, sample: HostSample, at: float) -> None:
        """Store ``sample`` of ``host`` in the slot of ``at`` (console clock)."""
        record = self._hosts.get(host)
        if record is None:
            record = self._hosts[host] = HostRecord(self.size)
        slot = self.slot(at)
        if not record.advance(slot):
            return
        for name, value in _host_values(sample).items():
            record.tracks[name].put(slot, value)
        gpus = sample.gpu.gpus[:MAX_GPUS] if sample.gpu.status == "ok" else ()
        keep = {gpu.index for gpu in gpus}
        for index in [index for index in record.gpus if index not in keep]:
            del record.gpus[index]  # left the sample: forgotten at once
        for gpu in gpus:
            tracks = record.gpu_tracks(gpu.index)
            if tracks is None:
                continue
            lost = gpu.lost
            tracks["util"].put(slot, None if lost else gpu.util_gpu_percent)
            tracks["memory"].put(slot, None if lost else gpu.memory_used_bytes)
            tracks["power"].put(slot, None if lost else gpu.power_draw_w)
            tracks["temperature"].put(slot, None if lost else gpu.temperature_c)

    def gpus(self, host: str) -> list[int]:
        """The GPU indices of ``host`` that have a history."""
        record = self._hosts.get(host)
        return list(record.gpus) if record else []

    def host_series(self, host: str, metric: str, span_s: float, end: float) -> Series:
        """``metric`` (a :data:`HOST_TRACKS` name) of ``host`` over the ``span_s`` up to ``end``."""
        record = self._hosts.get(host)
        return self._series(record, record.tracks if record else None, metric, span_s, end)

    def gpu_series(self, host: str, index: int, metric: str, span_s: float, end: float) -> Series:
        """``metric`` (a :data:`GPU_TRACKS` name) of GPU ``index`` of ``host``."""
        record = self._hosts.get(host)
        tracks = record.gpus.get(index) if record else None
        return self._series(record, tracks, metric, span_s, end)

    def _series(
        self,
        record: HostRecord | None,
        tracks: dict[str, Track] | None,
        metric: str,
        span_s: float,
        end: float,
    ) -> Series:
        count = min(self.size, slots_for(span_s, self.interval_s))
        end_slot = self.slot(end)
        if record is not None and record.head == end_slot - 1:
            end_slot -= 1  # the interval in progress has no sample yet: that is no gap
        if record is None or tracks is None:
            values = [math.nan] * count
        else:
            values = record.read(tracks, metric, end_slot, count)
        return Series(values, self.interval_s, (end_slot + 1) * self.interval_s)

    def utilisation(self, host: str, index: int) -> list[float]:
        """The GPU's utilisation over its newest :data:`RECENT_POINTS` slots (sparklines)."""
        return self._recent(host, index, "util")

    def power(self, host: str, index: int) -> list[float]:
        """The GPU's power over its newest :data:`RECENT_POINTS` slots (sparklines)."""
        return self._recent(host, index, "power")

    def _recent(self, host: str, index: int, metric: str) -> list[float]:
        record = self._hosts.get(host)
        tracks = record.gpus.get(index) if record else None
        if record is None or tracks is None or record.head is None:
            return []
        held = min(record.head - record.first + 1, self.size, RECENT_POINTS)
        return record.read(tracks, metric, record.head, held)


GpuHistory = History
"""The name the sparklines knew it by."""
