"""Build the set of collectors for a run; the same set serves the TUI and ``snapshot``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiconsole.collectors.base import Collector
from aiconsole.collectors.local import LocalCollector
from aiconsole.model import FleetSnapshot
from aiconsole.store import FleetStore


@dataclass
class Fleet:
    store: FleetStore
    collectors: Sequence[Collector] = field(default_factory=list)

    async def sample_all(self) -> None:
        await asyncio.gather(*(collector.collect_once() for collector in self.collectors))

    async def snapshot_once(self, window: float) -> FleetSnapshot:
        """Sample every source; with ``window`` > 0, twice that far apart so rates exist."""
        await self.sample_all()
        if window > 0:
            await asyncio.sleep(window)
            await self.sample_all()
        return self.store.snapshot()

    def close(self) -> None:
        for collector in self.collectors:
            close = getattr(collector, "close", None)
            if close is not None:
                close()


def local_fleet(interval: float = 1.0) -> Fleet:
    """No configuration: this machine only."""
    store = FleetStore()
    return Fleet(store, [LocalCollector(store, interval=interval)])
