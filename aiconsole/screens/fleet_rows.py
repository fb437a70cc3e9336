"""The fleet table's rows, kept per host and rebuilt only for hosts whose state changed.

At 10,000 hosts, formatting fourteen cells per host on every refresh costs more than a
refresh's budget, while most hosts show what they showed last time: their sample is the same
object (sources keep an unchanged host's state), and so are status, reason and findings. A
host's summary and row are therefore kept, keyed by that sample's identity, and built again
only when one of those changed.

Even a host that changed only needs its cells formatted when it is drawn: the kept row holds
just what the table sizes its columns by (``sizing_of``: the text of the columns that fit
their widest value), and the table asks for the full cells of the rows on screen at draw
time (:meth:`RowCache.drawn`), formatted once per host state. After a scrape of every host,
a refresh then costs a summary per host, not fourteen formatted cells.

The one value that moves on every row at every refresh is the data age: it is filled in at
draw time too. Summaries carry a current age only when the table is sorted by it; otherwise
their ``age_s`` is the age when they were built and no one reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec

from aiconsole import units
from aiconsole.model import FleetSnapshot, HostSample
from aiconsole.summary import HostSummary, summarize
from aiconsole.widgets.fleet_table import Cell, Row

Found = tuple[int, str] | None
"""Findings about a host: (how many, the worst severity), or None."""


@dataclass(slots=True)
class _Kept:
    sample: HostSample | None
    status: str
    reason: str | None
    found: Found
    summary: HostSummary
    row: Row
    cells: tuple[Cell, ...] | None = None
    """The full cells, once the row has been drawn."""


Cells = Callable[[HostSummary], tuple[Cell, ...]]


class RowCache:
    def __init__(self, cells_of: Cells, sizing_of: Cells, age_column: int):
        """``cells_of``: a row's cells as drawn; ``sizing_of``: the same, where only the
        columns that are fitted to their widest value need their text."""
        self._cells_of = cells_of
        self._sizing_of = sizing_of
        self._age_column = age_column
        self._kept: dict[str, _Kept] = {}
        self._ages: dict[str, float | None] = {}

    def summaries(
        self, snapshot: FleetSnapshot, per_host: dict[str, tuple[int, str]], current_ages: bool
    ) -> list[HostSummary]:
        """One summary per host, in snapshot order; ``current_ages``: with this snapshot's
        data ages (sorting by age needs them; nothing else does)."""
        kept = self._kept
        out: list[HostSummary] = []
        ages: dict[str, float | None] = {}
        sizing_of = self._sizing_of
        for state in snapshot.hosts:
            name = state.name
            found = per_host.get(name)
            entry = kept.get(name)
            if (
                entry is None
                or entry.sample is not state.sample
                or entry.status != state.status
                or entry.reason != state.reason
                or entry.found != found
            ):
                summary = summarize(state, found)
                sizing = sizing_of(summary)
                if entry is None:
                    entry = kept[name] = _Kept(
                        state.sample, state.status, state.reason, found, summary, _row(name, sizing)
                    )
                else:
                    # Updated in place, and the row kept while what it is sized by is the
                    # same (a new sample rarely changes a host's reason): fewer objects made
                    # and dropped per changed host, so less garbage collection too.
                    entry.sample = state.sample
                    entry.status = state.status
                    entry.reason = state.reason
                    entry.found = found
                    entry.summary = summary
                    entry.cells = None
                    if entry.row.cells != sizing:
                        entry.row = _row(name, sizing)
            summary = entry.summary
            age = ages[name] = state.age_s
            if current_ages and summary.age_s != age:
                summary = msgspec.structs.replace(summary, age_s=age)
            out.append(summary)
        self._ages = ages
        if len(kept) > len(ages):
            for gone in kept.keys() - ages.keys():
                del kept[gone]
        return out

    def rows(self, summaries: Iterable[HostSummary]) -> list[Row]:
        """The kept rows of hosts summarized by the last :meth:`summaries`, in order."""
        kept = self._kept
        return [kept[s.name].row for s in summaries]

    def drawn(self, row: Row) -> tuple[Cell, ...]:
        """A row's cells as drawn, with the host's current data age."""
        entry = self._kept.get(row.key)
        if entry is None:
            return row.cells
        cells = entry.cells
        if cells is None:
            cells = entry.cells = self._cells_of(entry.summary)
        at = self._age_column
        age = (units.duration(self._ages.get(row.key)), "")
        return (*cells[:at], age, *cells[at + 1 :])


def _row(key: str, cells: tuple[Cell, ...]) -> Row:
    """``Row(key, cells)`` without the frozen ``__init__`` (a field at a time through
    ``object.__setattr__``): one is built per changed host, up to the whole fleet."""
    row: Row = object.__new__(Row)
    row.__dict__.update(key=key, cells=cells, heading=False)
    return row
