"""Keeps one Kubernetes cluster (a kubeconfig context) current in the store: list + watch.

Nodes and pods each have a :class:`Reflector` (list, then watch from the last
resourceVersion; relist on 410 Gone; backoff on failure). Changes are folded into a new
immutable :class:`KubeCluster` at most every ``min_publish`` seconds, so a burst of pod
events costs one rebuild, not one per event. A dead or slow API server affects only its own
cluster: it is marked ``stale`` (last picture kept, with its age) or ``error`` (nothing seen
yet), with the reason, while every other collector carries on.

The ``kubernetes`` package is imported here only when a collector connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from aiconsole.kubernetes.objects import node_from, pod_from, with_requests
from aiconsole.model import KubeCluster, KubeNode, KubePod
from aiconsole.store import FleetStore

if TYPE_CHECKING:
    from aiconsole.kubernetes.api import KubeApi
    from aiconsole.kubernetes.reflector import Reflector

NODES = "/api/v1/nodes"
PODS = "/api/v1/pods"


class KubeCollector:
    def __init__(
        self,
        context: str,
        store: FleetStore,
        *,
        kubeconfig: str,
        timeout: float = 5.0,
        heartbeat: float = 2.0,
        min_publish: float = 0.5,
        watch_timeout: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = context
        self.store = store
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self.heartbeat = heartbeat
        self.min_publish = min_publish
        self.watch_timeout = watch_timeout
        self._clock = clock
        self._api: KubeApi | None = None
        self._nodes: Reflector[KubeNode] | None = None
        self._pods: Reflector[KubePod] | None = None
        self._changed = asyncio.Event()
        self._error: str | None = None
        self.publishes = 0
        store.put_kube(KubeCluster(name=context, status="connecting"))

    async def _connection(self) -> KubeApi:
        if self._api is None:
            from aiconsole.kubernetes.api import KubeApi

            self._api = await KubeApi.connect(self.name, self.kubeconfig, self.timeout)
        return self._api

    def _reflectors(self, api: KubeApi) -> tuple[Reflector[KubeNode], Reflector[KubePod]]:
        from aiconsole.kubernetes.reflector import Reflector

        if self._nodes is None or self._pods is None:
            self._nodes = Reflector(
                api,
                NODES,
                node_from,
                on_change=self._changed.set,
                on_error=self._failed,
                watch_timeout=self.watch_timeout,
            )
            self._pods = Reflector(
                api,
                PODS,
                pod_from,
                on_change=self._changed.set,
                on_error=self._failed,
                watch_timeout=self.watch_timeout,
            )
        return self._nodes, self._pods

    def _failed(self, reason: str) -> None:
        self._error = reason
        self._changed.set()

    async def poll_once(self) -> KubeCluster:
        """One full list of nodes and pods (for ``snapshot``), recorded in the store."""
        from aiconsole.kubernetes.api import ApiError, KubeUnavailable

        async def read() -> None:
            api = await self._connection()
            nodes, pods = self._reflectors(api)
            await asyncio.gather(nodes.list_once(), pods.list_once())

        try:
            await asyncio.wait_for(read(), self.timeout * 4)
            self._error = None
        except KubeUnavailable as error:
            self._failed(str(error))
        except ApiError as error:
            self._failed(f"context {self.name}: {error}")
        except asyncio.TimeoutError:
            self._failed(f"context {self.name}: no answer within {self.timeout * 4:g} s")
        return self.publish()

    def publish(self, changed: bool = True) -> KubeCluster:
        """Fold the reflectors' maps into a new cluster value in the store.

        ``changed=False`` (a quiet, healthy watch) only moves ``collected_at`` on: the data
        is still current, and rebuilding 20,000 pods to say so would waste a core.
        """
        nodes, pods = self._nodes, self._pods
        healthy = (
            nodes is not None
            and pods is not None
            and nodes.synced
            and pods.synced
            and nodes.healthy
            and pods.healthy
        )
        last = self.store.kube(self.name)
        server = self._api.server if self._api is not None else None
        if healthy and not changed and last is not None and last.status == "ok":
            cluster = msgspec.structs.replace(last, collected_at=self._clock())
        elif healthy and nodes is not None and pods is not None:
            pod_list = list(pods.objects.values())
            cluster = KubeCluster(
                name=self.name,
                status="ok",
                server=server,
                collected_at=self._clock(),
                nodes=tuple(with_requests(list(nodes.objects.values()), pod_list)),
                pods=tuple(pod_list),
            )
            self._error = None
        elif last is not None and last.collected_at is not None:
            age = self._clock() - last.collected_at
            reason = (self._error or f"context {self.name}: reconnecting") + (
                f" (data from {age:.0f} s ago)"
            )
            cluster = msgspec.structs.replace(last, status="stale", reason=reason)
        else:
            cluster = KubeCluster(
                name=self.name,
                status="error" if self._error else "connecting",
                reason=self._error,
                server=server,
            )
        self.store.put_kube(cluster)
        self.publishes += 1
        return cluster

    async def run(self) -> None:
        """Watch forever: connect (with backoff), then list + watch nodes and pods."""
        from aiconsole.kubernetes.api import KubeUnavailable

        backoff = 1.0
        while True:
            try:
                api = await self._connection()
                break
            except KubeUnavailable as error:
                self._failed(str(error))
                self.publish()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
        nodes, pods = self._reflectors(api)
        await asyncio.gather(nodes.run(), pods.run(), self._publisher())

    async def _publisher(self) -> None:
        while True:
            # No change within a heartbeat: republish anyway, so the data age says the
            # watch is alive.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.heartbeat)
            changed = self._changed.is_set()
            self._changed.clear()
            self.publish(changed)
            await asyncio.sleep(self.min_publish)

    async def aclose(self) -> None:
        if self._api is not None:
            api, self._api = self._api, None
            await api.close()
