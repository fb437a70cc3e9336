"""How the fleet table is arranged: filter, sort and group host summaries (no Textual here).

Kept apart from the screen so the rules are plain functions, tested without a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from aiconsole.summary import HostSummary

GroupBy = Literal["none", "status", "group"]
GROUPINGS: tuple[GroupBy, ...] = ("none", "status", "group")

STATUS_ORDER = (
    "host_key_refused",
    "auth_failed",
    "probe_error",
    "unreachable",
    "stale",
    "connecting",
    "ok",
)
"""Worst first: sorting or grouping by status puts what needs attention at the top."""

UNGROUPED = "(no group)"
FINDING_RANK = {"critical": 3, "warning": 2, "info": 1}


def status_rank(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else 0


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """``gpu2`` before ``gpu10``: digit runs compare as numbers."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.split(r"(\d+)", name)
        if part
    )


def _percent(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else 100.0 * part / whole


SORT_VALUES: dict[str, Callable[[HostSummary], object]] = {
    "host": lambda s: natural_key(s.name),
    "status": lambda s: status_rank(s.status),
    # Worst first when ascending, as for status; hosts with none last.
    "findings": lambda s: (
        (-FINDING_RANK.get(s.worst_finding or "", 0), -s.findings) if s.findings else None
    ),
    "age": lambda s: s.age_s,
    "cpu": lambda s: s.cpu_percent,
    "mem": lambda s: _percent(s.memory_used_bytes, s.memory_total_bytes),
    "gpus": lambda s: s.gpu_count or None,
    "util": lambda s: s.gpu_util_mean,
    "gmem": lambda s: _percent(s.gpu_memory_used_bytes, s.gpu_memory_total_bytes),
    "temp": lambda s: s.gpu_temp_max,
    "power": lambda s: s.gpu_power_w,
    "rx": lambda s: s.net_rx_bytes_per_s,
    "tx": lambda s: s.net_tx_bytes_per_s,
    "reason": lambda s: s.reason or None,
}
"""Per fleet column: the value rows are ordered by (None: the host has no such value)."""


@dataclass(frozen=True)
class FleetView:
    sort: str | None = None
    """Column key, or None for inventory order."""
    descending: bool = False
    filter: str = ""
    group_by: GroupBy = "none"

    def next_sort(self, columns: Sequence[str]) -> FleetView:
        """The next column (after the last one: back to inventory order)."""
        keys = [c for c in columns if c in SORT_VALUES]
        if self.sort is None:
            return FleetView(keys[0], False, self.filter, self.group_by)
        at = keys.index(self.sort) if self.sort in keys else -1
        following = keys[at + 1] if at + 1 < len(keys) else None
        return FleetView(following, False, self.filter, self.group_by)

    def sorted_by(self, column: str) -> FleetView:
        """Sort by ``column``; asked again, the order flips."""
        descending = not self.descending if self.sort == column else False
        return FleetView(column, descending, self.filter, self.group_by)

    def next_grouping(self) -> FleetView:
        following = GROUPINGS[(GROUPINGS.index(self.group_by) + 1) % len(GROUPINGS)]
        return FleetView(self.sort, self.descending, self.filter, following)

    def describe(self) -> str:
        parts = []
        if self.filter:
            parts.append(f"filter “{self.filter}”")
        if self.sort is not None:
            parts.append(f"sorted by {self.sort} {'↓' if self.descending else '↑'}")
        if self.group_by != "none":
            parts.append(f"grouped by {self.group_by}")
        return ", ".join(parts)


def matches(summary: HostSummary, query: str) -> bool:
    """Every word of the query is in the host's name, status or reason (case-insensitive).

    A word starting with ``!`` excludes hosts that contain it. Statuses match in either
    spelling (``host_key_refused`` or ``key refused``).
    """
    haystack = " ".join(
        (summary.name, summary.status, summary.status.replace("_", " "), summary.reason or "")
    ).lower()
    for word in query.lower().split():
        if word.startswith("!"):
            if word[1:] and word[1:] in haystack:
                return False
        elif word not in haystack:
            return False
    return True


@dataclass(frozen=True)
class Section:
    label: str | None
    """Group header, or None when the table is not grouped."""
    hosts: tuple[HostSummary, ...]


def arrange(
    summaries: Sequence[HostSummary],
    view: FleetView,
    group_of: Mapping[str, str] | None = None,
) -> list[Section]:
    """Filter, then sort (hosts without a value last, either direction), then group."""
    shown = [s for s in summaries if matches(s, view.filter)] if view.filter else list(summaries)
    if view.sort is not None:
        value = SORT_VALUES[view.sort]
        present = [s for s in shown if value(s) is not None]
        missing = [s for s in shown if value(s) is None]
        present.sort(key=lambda s: value(s), reverse=view.descending)  # type: ignore[arg-type, return-value]
        shown = present + missing
    if view.group_by == "none":
        return [Section(None, tuple(shown))]
    if view.group_by == "status":
        label_of: Callable[[HostSummary], str] = lambda s: s.status.replace("_", " ")  # noqa: E731
        order = [s.replace("_", " ") for s in STATUS_ORDER]
    else:
        groups = group_of or {}
        label_of = lambda s: groups.get(s.name, UNGROUPED)  # noqa: E731
        order = list(dict.fromkeys([*groups.values(), UNGROUPED]))
    sections: dict[str, list[HostSummary]] = {}
    for summary in shown:
        sections.setdefault(label_of(summary), []).append(summary)
    ranked = sorted(sections, key=lambda label: order.index(label) if label in order else 0)
    return [Section(label, tuple(sections[label])) for label in ranked]
