"""Thresholds of the health rules, with the defaults an on-call operator would pick.

They come from the config's ``[health]`` table; every key is optional.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

# XIDs that mean the GPU (or its memory, NVLink or firmware) is at fault, not the program:
# NVIDIA's XID catalogue sends each of these to "reset the GPU / drain the node / RMA".
CRITICAL_XIDS = frozenset({48, 61, 62, 63, 64, 74, 79, 92, 94, 95, 109, 119, 120, 121, 140})
# XIDs that are nearly always the program's own fault (bad address, illegal instruction,
# a killed context): worth seeing next to the job, not worth a drain.
APPLICATION_XIDS = frozenset({13, 31, 43, 45, 68})


class ThresholdError(ValueError):
    """A ``[health]`` value of the wrong type or out of range."""


@dataclass(frozen=True)
class Thresholds:
    raise_after: int = 3
    """A condition becomes a finding after this many bad samples in a row."""
    clear_after: int = 5
    """A finding clears after this many good samples in a row."""
    xid_window_s: float = 6 * 3600.0
    """XIDs younger than this are findings (the kernel log keeps older ones)."""
    idle_util_percent: float = 1.0
    """A GPU a job holds at or below this utilisation ..."""
    idle_minutes: float = 30.0
    """... for at least this long is wasted."""
    filesystem_full_percent: float = 95.0
    stale_after_s: float = 30.0
    """A host whose data is older than this is a finding (the fleet marks it stale sooner)."""

    @classmethod
    def from_table(cls, table: dict[str, object]) -> Thresholds:
        known = {f.name: f for f in fields(cls)}
        values: dict[str, float | int] = {}
        for key, value in table.items():
            if key not in known:
                raise ThresholdError(f"[health] has no setting {key!r}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ThresholdError(f"[health] {key} must be a number")
            if not math.isfinite(value) or value < 0:
                raise ThresholdError(f"[health] {key} must be a finite number >= 0")
            if known[key].type == "int":
                if int(value) != value or value < 1:
                    raise ThresholdError(f"[health] {key} must be a whole number >= 1")
                value = int(value)
            values[key] = value
        return cls(**values)  # type: ignore[arg-type]
