"""This machine, through the same probe code that runs on remote hosts."""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING, Any

from aiconsole import probe
from aiconsole.collectors.base import CollectionError, Collector, decode_sample, one_line
from aiconsole.model import HostSample, HostState
from aiconsole.store import FleetStore

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor


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
        # Made on the first sample in an event loop: the one-shot snapshot needs neither the
        # executor nor asyncio, and importing them is a third of its start-up.
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future[Any] | None = None
        self._blocking: threading.Thread | None = None

    async def _collect(self) -> HostSample:
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        if self._pending is not None and not self._pending.done():
            raise CollectionError("stale", "previous sample still running (NVML or a mount hung?)")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-probe")
        self._pending = self._executor.submit(self._sampler.sample)
        raw = await asyncio.wrap_future(self._pending)
        return decode_sample(raw)

    def collect_blocking(self) -> HostState:
        """One sample without an event loop (the one-shot snapshot), recorded in the store.

        The sampler runs in a daemon thread joined under the collector's timeout: a hung
        driver or mount makes the host stale after the timeout and cannot hold the process
        open at exit.
        """
        if self._blocking is not None and self._blocking.is_alive():
            state = self._failed("stale", "previous sample still running (NVML or a mount hung?)")
            return self.store.put(state)
        outcome: list[Any] = []

        def sample() -> None:
            try:
                outcome.append(self._sampler.sample())
            except Exception as error:  # reported as the host's state, below
                outcome.append(error)

        self._blocking = threading.Thread(target=sample, name="local-probe", daemon=True)
        self._blocking.start()
        self._blocking.join(self.timeout)
        if not outcome:
            state = self._failed("stale", f"no sample within {self.timeout:g} s")
        elif isinstance(outcome[0], Exception):
            state = self._failed("probe_error", one_line(outcome[0]))
        else:
            try:
                state = self._accepted(decode_sample(outcome[0]))
            except CollectionError as error:
                state = self._failed(error.status, error.reason)
        return self.store.put(state)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
