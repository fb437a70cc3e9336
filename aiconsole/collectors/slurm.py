"""Polls one Slurm cluster into the store; a slow or stopped slurmctld never stalls hosts.

Each poll has its own deadline (Slurm's clients take ~9 s to give up on a dead controller);
on failure the cluster keeps its last nodes and jobs, marked ``stale`` with the reason, so the
operator still sees what was last known and why it is old.
"""

from __future__ import annotations

import asyncio
import time

import msgspec

from aiconsole.model import SlurmCluster
from aiconsole.slurm.reader import SlurmUnavailable, read_cluster
from aiconsole.slurm.runner import Runner
from aiconsole.store import FleetStore


class SlurmCollector:
    def __init__(
        self,
        name: str,
        runner: Runner,
        store: FleetStore,
        *,
        interval: float = 2.0,
        timeout: float = 5.0,
    ) -> None:
        self.name = name
        self.runner = runner
        self.store = store
        self.interval = interval
        self.timeout = timeout
        store.put_cluster(SlurmCluster(name=name, status="connecting"))

    async def poll_once(self) -> SlurmCluster:
        try:
            cluster = await asyncio.wait_for(
                read_cluster(self.name, self.runner, self.timeout), self.timeout + 1
            )
        except SlurmUnavailable as error:
            cluster = self._failed(str(error))
        except asyncio.TimeoutError:
            cluster = self._failed(f"{self.name}: Slurm did not answer within {self.timeout:g} s")
        except Exception as error:
            # A parser bug or odd output must not end this task: the cluster would keep
            # showing "ok" while its data ages. It turns stale with the reason instead.
            cluster = self._failed(
                f"{self.name}: reading Slurm failed: {type(error).__name__}: {error}"[:500]
            )
        self.store.put_cluster(cluster)
        return cluster

    def _failed(self, reason: str) -> SlurmCluster:
        last = self.store.cluster(self.name)
        if last is None or not (last.nodes or last.jobs):
            return SlurmCluster(name=self.name, status="error", reason=reason)
        age = (
            ""
            if last.collected_at is None
            else f" (data from {time.time() - last.collected_at:.0f} s ago)"
        )
        return msgspec.structs.replace(last, status="stale", reason=reason + age)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self.poll_once()
            await asyncio.sleep(max(0.0, self.interval - (loop.time() - started)))

    def close(self) -> None:
        self.runner.close()
