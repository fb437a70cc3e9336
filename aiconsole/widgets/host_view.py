"""What every host section widget is given: one host as the latest snapshot shows it."""

from __future__ import annotations

from dataclasses import dataclass

from aiconsole.history import History
from aiconsole.model import FleetSnapshot, HostSample, HostState
from aiconsole.widgets.render import Palette


@dataclass(frozen=True)
class HostView:
    """One host of ``snapshot``, with the console's history and the running theme's colours."""

    name: str
    snapshot: FleetSnapshot
    state: HostState
    sample: HostSample
    palette: Palette
    history: History
    span_s: float
    """How far back the history sections look (the host screen's zoom)."""
