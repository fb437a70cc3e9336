"""The one store of host states that every collector writes and every view reads.

Writers replace a host's whole :class:`HostState`; the mapping itself is replaced too, never
mutated, so a reader holding a snapshot is never surprised by a half-written update and needs
no lock. All writes happen on the event loop thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

import msgspec

from aiconsole.model import FleetSnapshot, HostState, KubeCluster, SlurmCluster
from aiconsole.text import MAX_REASON, clean


class FleetStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._hosts: Mapping[str, HostState] = MappingProxyType({})
        self._clusters: Mapping[str, SlurmCluster] = MappingProxyType({})
        self._kube: Mapping[str, KubeCluster] = MappingProxyType({})
        self.version = 0
        """Increases with every write, so a view can skip a redraw when nothing changed."""

    def declare(self, names: Iterable[str]) -> None:
        """Add hosts that have not reported yet, in inventory order, as ``connecting``."""
        hosts = dict(self._hosts)
        for name in names:
            hosts.setdefault(name, HostState(name=name, status="connecting"))
        self._replace(hosts)

    def put(self, state: HostState) -> HostState:
        """Replace one host's state, and return it as stored. Its reason is cleaned here, the
        one door every collector's reasons pass (they quote what hosts and SSH servers said);
        samples were cleaned when they were decoded."""
        if state.reason is not None:
            reason = clean(state.reason, MAX_REASON)
            if reason is not state.reason:
                state = msgspec.structs.replace(state, reason=reason)
        hosts = dict(self._hosts)
        hosts[state.name] = state
        self._replace(hosts)
        return state

    def put_many(self, states: Iterable[HostState]) -> None:
        """Replace many hosts in one write (a source that reads a whole fleet at once)."""
        hosts = dict(self._hosts)
        for state in states:
            hosts[state.name] = state
        self._replace(hosts)

    def drop(self, names: Iterable[str]) -> None:
        """Forget hosts (a source's own placeholder row once real hosts arrive)."""
        hosts = dict(self._hosts)
        for name in names:
            hosts.pop(name, None)
        self._replace(hosts)

    def put_cluster(self, cluster: SlurmCluster) -> None:
        self._clusters = MappingProxyType({**self._clusters, cluster.name: cluster})
        self.version += 1

    def cluster(self, name: str) -> SlurmCluster | None:
        return self._clusters.get(name)

    def put_kube(self, cluster: KubeCluster) -> None:
        self._kube = MappingProxyType({**self._kube, cluster.name: cluster})
        self.version += 1

    def kube(self, name: str) -> KubeCluster | None:
        return self._kube.get(name)

    def get(self, name: str) -> HostState | None:
        return self._hosts.get(name)

    def snapshot(self) -> FleetSnapshot:
        """The fleet now, with each host's data age computed on the console's clock."""
        now = self._clock()
        hosts = tuple(
            state
            if state.received_at is None
            else msgspec.structs.replace(state, age_s=round(max(0.0, now - state.received_at), 3))
            for state in self._hosts.values()
        )
        kube = tuple(
            cluster
            if cluster.collected_at is None
            else msgspec.structs.replace(
                cluster, age_s=round(max(0.0, now - cluster.collected_at), 3)
            )
            for cluster in self._kube.values()
        )
        return FleetSnapshot(
            generated_at=now,
            hosts=hosts,
            clusters=tuple(self._clusters.values()),
            kubernetes=kube,
        )

    def _replace(self, hosts: dict[str, HostState]) -> None:
        self._hosts = MappingProxyType(hosts)
        self.version += 1
