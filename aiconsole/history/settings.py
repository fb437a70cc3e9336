"""The ``[history]`` table: how far back the console keeps each host's and GPU's history::

    [history]
    window = "1h"        # 3m .. 24h; a number is seconds

Memory grows with the window (see :func:`aiconsole.history.bytes_needed`), so it is capped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiconsole.history.store import DEFAULT_WINDOW_S

MIN_WINDOW_S = 180.0
"""The shortest zoom of the charts: a shorter window would have nothing to zoom out to."""
MAX_WINDOW_S = 86400.0

_UNITS = {"s": 1, "m": 60, "h": 3600}
_WINDOW = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smh]?)")

Fail = Callable[[str | None, str, str], Exception]


def parse_history(raw: Any, fail: Fail) -> float:
    """The window in seconds from the ``[history]`` table (absent: one hour)."""
    if raw is None:
        return DEFAULT_WINDOW_S
    if not isinstance(raw, dict):
        raise fail(None, "history", 'must be a table, e.g. window = "1h"')
    for key in raw:
        if key != "window":
            raise fail("history", key, "unknown key (expected window)")
    value = raw.get("window", DEFAULT_WINDOW_S)
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        match = _WINDOW.fullmatch(value.strip())
        if match is not None:
            seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds is None or seconds != seconds:
        raise fail("history", "window", 'must be a duration like "30m" or "2h", or seconds')
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise fail("history", "window", "must be between 3m and 24h")
    return seconds
