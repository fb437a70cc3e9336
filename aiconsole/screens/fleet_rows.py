"""The fleet table's rows, kept per host and rebuilt only for hosts whose state changed.

At 10,000 hosts, formatting fourteen cells per host on every refresh costs more than a
refresh's budget, while most hosts show what they showed last time: their sample is the same
object (sources keep an unchanged host's state), and so are status, reason and findings. A
host's summary and row are therefore kept, keyed by that sample's identity, and built again
only when one of those changed.

The one value that moves on every row at every refresh is the data age. It is not baked into
the kept rows: the table asks for it at draw time (:meth:`RowCache.with_age`), so only the
few rows on screen format it. Summaries carry a current age only when the table is sorted by
it; otherwise their ``age_s`` is the age when they were built and no one reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from aiconsole import units
from aiconsole.model import FleetSnapshot, HostSample
from aiconsole.summary import HostSummary, summarize
from aiconsole.widgets.fleet_table import Cell, Row

Found = tuple[int, str] | None
"""Findings about a host: (how many, the worst severity), or None."""


@dataclass
class _Kept:
    sample: HostSample | None
    status: str
    reason: str | None
    found: Found
    summary: HostSummary
    row: Row


class RowCache:
    def __init__(self, cells_of: Callable[[HostSummary], tuple[Cell, ...]], age_column: int):
        self._cells_of = cells_of
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
                summary = _with_findings(summarize(state), found)
                entry = kept[name] = _Kept(
                    state.sample,
                    state.status,
                    state.reason,
                    found,
                    summary,
                    Row(name, self._cells_of(summary)),
                )
            summary = entry.summary
            if current_ages and summary.age_s != state.age_s:
                summary = replace(summary, age_s=state.age_s)
            out.append(summary)
        self._ages = {state.name: state.age_s for state in snapshot.hosts}
        if len(kept) > len(self._ages):
            for gone in kept.keys() - self._ages.keys():
                del kept[gone]
        return out

    def row(self, name: str) -> Row:
        """The kept row of a host named by the last :meth:`summaries` (its age cell is
        filled in at draw time by :meth:`with_age`)."""
        return self._kept[name].row

    def with_age(self, row: Row) -> tuple[Cell, ...]:
        """A row's cells with the host's current data age."""
        cells = row.cells
        at = self._age_column
        age = (units.duration(self._ages.get(row.key)), "")
        return (*cells[:at], age, *cells[at + 1 :])


def _with_findings(summary: HostSummary, found: Found) -> HostSummary:
    if found is None:
        return summary if not summary.findings else replace(summary, findings=0, worst_finding=None)
    return replace(summary, findings=found[0], worst_finding=found[1])
