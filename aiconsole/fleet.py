"""Build the set of collectors for a run; the same set serves the TUI and ``snapshot``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aiconsole.collectors.base import Collector
from aiconsole.collectors.live_detail import LiveDetail
from aiconsole.collectors.local import LocalCollector
from aiconsole.config import Settings
from aiconsole.health.monitor import HealthMonitor
from aiconsole.model import FleetSnapshot
from aiconsole.prometheus.settings import PrometheusSettings
from aiconsole.store import FleetStore

if TYPE_CHECKING:
    from aiconsole.alerts.pusher import AlertPusher  # urllib, http, email: when configured
    from aiconsole.collectors.kubernetes import KubeCollector
    from aiconsole.collectors.slurm import SlurmCollector  # imports asyncssh


class FleetFeed(Protocol):
    """A source that writes many hosts at once (Prometheus), beside per-host collectors."""

    name: str
    interval: float

    async def run(self) -> None: ...
    async def collect_for_snapshot(self, window: float) -> None: ...
    def focus(self, host: str) -> None: ...
    def hand_over(self, names: set[str]) -> None: ...
    def close(self) -> None: ...


@dataclass
class Fleet:
    store: FleetStore
    collectors: Sequence[Collector] = field(default_factory=list)
    group_of: dict[str, str] = field(default_factory=dict)
    """Host name to its inventory group, for grouping the fleet table."""
    clusters: list[SlurmCollector] = field(default_factory=list)
    health: HealthMonitor = field(default_factory=HealthMonitor)
    """Judges each live snapshot (with hysteresis) and hands findings to the alerts."""
    alerts: AlertPusher | None = None
    """Started by the live console when ``[alerts]`` names a receiver."""
    diagnose: tuple[str, ...] = ("dcgmi", "diag", "-r", "1", "-j")
    """What the TUI's diagnose runs on a host (``[health] diagnose``)."""
    ssh_config: str | None = None
    """The ssh configuration hosts are resolved through (for the diagnosis's connection)."""

    def live_snapshot(self) -> FleetSnapshot:
        """The store's current state with its findings: what the screens show."""
        return self.health.update(self.store.snapshot())

    kube: list[KubeCollector] = field(default_factory=list)
    """One per kubeconfig context watched (empty unless Kubernetes is configured)."""
    feeds: list[FleetFeed] = field(default_factory=list)
    """Whole-fleet sources (Prometheus); their hosts live in the same store."""
    live_detail: LiveDetail | None = None
    """For a whole-fleet source: the hosts that can also be streamed over SSH when opened."""

    def collect_once(self, window: float) -> FleetSnapshot:
        """One snapshot of every source, for the one-shot commands (``snapshot``,
        ``health``): without an event loop when the fleet is local only, else in one."""
        snapshot = self.snapshot_blocking(window)
        if snapshot is not None:
            return snapshot
        import asyncio

        async def collect() -> FleetSnapshot:
            try:
                return await self.snapshot_once(window)
            finally:
                for cluster in self.clusters:
                    cluster.close()  # inside the loop its connections belong to
                await self.aclose_kube()

        return asyncio.run(collect())

    def snapshot_blocking(self, window: float) -> FleetSnapshot | None:
        """:meth:`snapshot_once` without an event loop, for a fleet of local collectors only
        (the default ``snapshot``: asyncio is a third of its start-up); None for any other."""
        if self.clusters or self.kube or self.feeds or self.live_detail is not None:
            return None
        local = [c for c in self.collectors if isinstance(c, LocalCollector)]
        if len(local) != len(self.collectors):
            return None
        for collector in local:
            collector.collect_blocking()
        if window > 0:
            time.sleep(window)
            for collector in local:
                collector.collect_blocking()
        return self.store.snapshot()

    async def snapshot_once(self, window: float) -> FleetSnapshot:
        """Sample every source at once; with ``window`` > 0, twice that far apart (rates)."""
        import asyncio  # here, not above: see snapshot_blocking

        await asyncio.gather(
            *(c.collect_for_snapshot(window) for c in self.collectors),
            *(cluster.poll_once() for cluster in self.clusters),
            *(cluster.poll_once() for cluster in self.kube),
            *(feed.collect_for_snapshot(window) for feed in self.feeds),
        )
        return self.store.snapshot()

    async def aclose_kube(self) -> None:
        """Close the Kubernetes connections (inside the event loop that opened them)."""
        import asyncio

        await asyncio.gather(*(cluster.aclose() for cluster in self.kube))

    def close(self) -> None:
        if self.live_detail is not None:
            self.live_detail.close()
        for cluster in self.clusters:
            cluster.close()
        for feed in self.feeds:
            feed.close()
        for collector in self.collectors:
            close = getattr(collector, "close", None)
            if close is not None:
                close()


def local_fleet(interval: float = 1.0) -> Fleet:
    """No configuration: this machine only."""
    store = FleetStore()
    return Fleet(store, [LocalCollector(store, interval=interval)])


def prometheus_fleet(settings: PrometheusSettings, interval: float) -> Fleet:
    """Every host an existing Prometheus knows, read from its TSDB."""
    from aiconsole.collectors.prometheus import PrometheusSource

    store = FleetStore()
    return Fleet(store, feeds=[PrometheusSource(settings, store, interval=interval)])


def live_ssh_detail(fleet: Fleet, hosts: Sequence[str], settings: Settings) -> LiveDetail:
    """Let ``fleet``'s hosts among ``hosts`` be streamed over SSH while open."""
    from asyncio import Semaphore

    from aiconsole.collectors.ssh import SshCollector, SshOptions
    from aiconsole.collectors.ssh_options import KnownHostsCache

    handshakes = Semaphore(settings.max_handshakes)
    known_hosts = KnownHostsCache()
    options = SshOptions(
        python=settings.python,
        connect_timeout=settings.connect_timeout,
        ssh_config=settings.ssh_config,
        reconnect_max_s=settings.reconnect_max,
        accept_new_host_keys=settings.host_key_policy == "accept-new",
    )

    def make(name: str) -> Collector:
        return SshCollector(
            name,
            fleet.store,
            options=options,
            handshakes=handshakes,
            known_hosts=known_hosts,
            interval=settings.interval,
        )

    return LiveDetail(hosts, make, fleet.feeds)


def ssh_fleet(hosts: Sequence[str], settings: Settings) -> Fleet:
    """Remote hosts over SSH, sharing one bound on concurrent handshakes."""
    from asyncio import Semaphore

    from aiconsole.collectors.ssh import SshCollector, SshOptions
    from aiconsole.collectors.ssh_options import KnownHostsCache

    store = FleetStore()
    store.declare(hosts)
    handshakes = Semaphore(settings.max_handshakes)
    known_hosts = KnownHostsCache()
    options = SshOptions(
        python=settings.python,
        connect_timeout=settings.connect_timeout,
        ssh_config=settings.ssh_config,
        reconnect_max_s=settings.reconnect_max,
        accept_new_host_keys=settings.host_key_policy == "accept-new",
    )
    collectors = [
        SshCollector(
            host,
            store,
            options=options,
            handshakes=handshakes,
            known_hosts=known_hosts,
            interval=settings.interval,
        )
        for host in hosts
    ]
    return Fleet(store, collectors)
