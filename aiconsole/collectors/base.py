"""The collector template: subclasses say how to get one sample; the base owns everything else.

The base runs the polling schedule (ticks never overlap and never drift), applies the
timeout, and turns every failure into a status on the host instead of an exception that stops
the loop. One slow or broken collector therefore never delays another: each runs in its own
task and writes only its own host into the store.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

import msgspec

from aiconsole.model import HostSample, HostState, HostStatus
from aiconsole.store import FleetStore
from aiconsole.text import MAX_REASON, clean, clean_strings


class CollectionError(Exception):
    """An expected failure with a status and a one-line reason (no traceback wanted)."""

    def __init__(self, status: HostStatus, reason: str) -> None:
        super().__init__(reason)
        self.status: HostStatus = status
        self.reason = reason


def decode_sample(raw: object) -> HostSample:
    """Validate a probe's output (already parsed JSON) into a :class:`HostSample`.

    Whatever a host sends is untrusted: a wrong type anywhere is a ``probe_error``, and every
    string in the result has passed :func:`aiconsole.text.clean` (the one cleaning step for
    host text: screens and JSON output take the sample's strings as they are).
    """
    try:
        sample = msgspec.convert(raw, HostSample)
    except msgspec.ValidationError as error:
        raise CollectionError("probe_error", rejected(error)) from None
    return clean_strings(sample)


def rejected(error: msgspec.DecodeError) -> str:
    """The reason for a sample that failed validation (its message may quote the host's text)."""
    return clean(f"probe output rejected: {error}", MAX_REASON)


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class Collector(ABC):
    def __init__(
        self,
        name: str,
        store: FleetStore,
        *,
        interval: float = 1.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.store = store
        self.interval = interval
        self.timeout = timeout
        self._clock = clock
        store.declare([name])

    @abstractmethod
    async def _collect(self) -> HostSample:
        """Return one fresh sample, or raise :class:`CollectionError`."""

    async def collect_once(self) -> HostState:
        """Take one sample and record the outcome in the store, whatever it is."""
        return await self._collect_with(self._collect())

    async def collect_for_snapshot(self, window: float) -> HostState:
        """For a one-shot snapshot: with ``window`` > 0, two samples that far apart (rates)."""
        import asyncio  # here, not above: the one-shot local snapshot runs without a loop

        state = await self.collect_once()
        if window > 0:
            await asyncio.sleep(window)
            state = await self.collect_once()
        return state

    async def _collect_with(
        self, pending: Awaitable[HostSample], timeout: float | None = None
    ) -> HostState:
        """Await one sample under ``timeout`` (default: the collector's); record the outcome."""
        import asyncio

        timeout = self.timeout if timeout is None else timeout
        try:
            sample = await asyncio.wait_for(pending, timeout)
        except TimeoutError:
            state = self._failed("stale", f"no sample within {timeout:g} s")
        except CollectionError as error:
            state = self._failed(error.status, error.reason)
        except Exception as error:
            state = self._failed("probe_error", one_line(error))
        else:
            state = self._accepted(sample)
        return self.store.put(state)  # as stored: with its reason cleaned

    def _accepted(self, sample: HostSample) -> HostState:
        """The state of a host whose sample arrived, under this collector's name."""
        if sample.identity.name != self.name:
            sample = msgspec.structs.replace(
                sample, identity=msgspec.structs.replace(sample.identity, name=self.name)
            )
        return HostState(
            name=self.name,
            status="ok",
            reason=self.notice(),
            received_at=self._clock(),
            sample=sample,
        )

    def notice(self) -> str | None:
        """Something the operator must hear about a host that is fine (shown as its reason)."""
        return None

    async def run(self) -> None:
        """Collect forever on a fixed schedule; a slow sample delays only its own next tick."""
        import asyncio

        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while True:
            await self.collect_once()
            next_tick += self.interval
            delay = next_tick - loop.time()
            if delay < 0:
                next_tick = loop.time()  # fell behind: skip missed ticks rather than burst
                delay = 0
            await asyncio.sleep(delay)

    def _failed(self, status: HostStatus, reason: str) -> HostState:
        """A failure keeps the last good sample, so the operator still sees what was known."""
        previous = self.store.get(self.name)
        return HostState(
            name=self.name,
            status=status,
            reason=reason,
            received_at=previous.received_at if previous else None,
            sample=previous.sample if previous else None,
        )
