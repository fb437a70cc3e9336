"""Live detail over SSH for a host of a whole-fleet source (Prometheus) while it is open.

Prometheus knows a host as of its last scrape, with the fields its exporters publish. When
the operator opens a host that is also reachable over SSH, the console streams it through
the probe like any SSH host (per-process GPU use, XIDs, every NIC and disk) and the fleet
source leaves that host to the stream until another host is opened or the detail closes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from aiconsole.collectors.base import Collector

if TYPE_CHECKING:
    import asyncio


class HandsOver(Protocol):
    def hand_over(self, names: set[str]) -> None:
        """Stop writing these hosts: another collector writes them now."""


class LiveDetail:
    def __init__(
        self,
        hosts: Iterable[str],
        make: Callable[[str], Collector],
        feeds: Sequence[HandsOver],
    ) -> None:
        self.hosts = frozenset(hosts)
        self._make = make
        self._feeds = feeds
        self._open: tuple[str, Collector, asyncio.Task[None]] | None = None

    @property
    def current(self) -> str | None:
        return self._open[0] if self._open else None

    def open(self, name: str) -> bool:
        """Stream ``name`` live (within a running event loop); False if it has no SSH."""
        if name not in self.hosts:
            return False
        if self.current == name:
            return True
        self.close()
        collector = self._make(name)
        for feed in self._feeds:
            feed.hand_over({name})
        import asyncio  # only the live console opens hosts: the one-shot snapshot needs none

        self._open = (name, collector, asyncio.create_task(collector.run()))
        return True

    def close(self) -> None:
        if self._open is None:
            return
        _, collector, task = self._open
        self._open = None
        task.cancel()
        close = getattr(collector, "close", None)
        if close is not None:
            close()
        for feed in self._feeds:
            feed.hand_over(set())
