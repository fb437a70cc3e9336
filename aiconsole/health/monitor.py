"""The live console's health: the tracker stepped on each refresh, findings to the alerts.

The app calls :meth:`HealthMonitor.update` with each new snapshot and gets it back with its
findings; the monitor holds the only mutable piece (the tracker state) and replaces it whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import msgspec

from aiconsole.health import TrackerState, observe, step
from aiconsole.health.silences import Mute, apply
from aiconsole.health.thresholds import Thresholds
from aiconsole.model import Finding, FleetSnapshot


class FindingsSink(Protocol):
    """Where findings go besides the screen: the alert pusher."""

    def offer(self, findings: tuple[Finding, ...]) -> None: ...


class HealthMonitor:
    def __init__(
        self,
        thresholds: Thresholds | None = None,
        sink: FindingsSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        self.sink = sink
        self.clock = clock
        self.state = TrackerState()
        self.mutes: Callable[[], tuple[Mute, ...]] = lambda: ()
        """Acknowledgements and silences in force (read from their store by the caller)."""

    def update(self, snapshot: FleetSnapshot) -> FleetSnapshot:
        now = self.clock()
        observations, counters = observe(snapshot, self.thresholds, self.state.counters, now)
        self.state, findings = step(self.state, observations, counters, self.thresholds, now)
        findings = apply(findings, self.mutes(), now)
        if self.sink is not None:
            self.sink.offer(findings)
        return msgspec.structs.replace(snapshot, findings=findings)
