"""This machine, through the same probe code that runs on remote hosts."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from aiconsole import probe
from aiconsole.collectors.base import CollectionError, Collector, decode_sample
from aiconsole.model import HostSample
from aiconsole.store import FleetStore


class LocalCollector(Collector):
    """Runs :class:`aiconsole.probe.Sampler` in a worker thread: NVML calls can block.

    One dedicated thread, because the sampler keeps state between samples and is not
    thread-safe; if a sample is still stuck there (a hung driver or NFS mount), the next tick
    reports the host stale instead of piling up threads.
    """

    def __init__(
        self, store: FleetStore, *, name: str | None = None, sampler: Any = None, **options: Any
    ) -> None:
        name = name or socket.gethostname()
        super().__init__(name, store, **options)
        self._sampler = sampler if sampler is not None else probe.Sampler(name=name)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-probe")
        self._pending: Future[Any] | None = None

    async def _collect(self) -> HostSample:
        if self._pending is not None and not self._pending.done():
            raise CollectionError("stale", "previous sample still running (NVML or a mount hung?)")
        self._pending = self._executor.submit(self._sampler.sample)
        raw = await asyncio.wrap_future(self._pending)
        return decode_sample(raw)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
