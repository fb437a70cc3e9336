"""The collector template and the store: failures become statuses, the loop never stops."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any

import pytest

from aiconsole.collectors.local import LocalCollector
from aiconsole.store import FleetStore
from tests.test_probe_parsers import NoGpus


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def local(store: FleetStore, sampler: Any = None, **options: Any) -> LocalCollector:
    from aiconsole import probe

    return LocalCollector(
        store, name="here", sampler=sampler or probe.Sampler(gpu_reader=NoGpus()), **options
    )


async def test_sample_lands_in_the_store_with_console_side_age() -> None:
    clock = Clock()
    store = FleetStore(clock=clock)
    collector = local(store, clock=clock)
    assert store.snapshot().hosts[0].status == "connecting"
    await collector.collect_once()
    clock.now += 2.5
    (host,) = store.snapshot().hosts
    assert host.status == "ok"
    assert host.age_s == 2.5
    assert host.sample is not None and host.sample.identity.name == "here"
    collector.close()


class HangingSampler:
    """This machine's probe, that hangs (as a stuck NVML call or mount would) once ``hang`` is
    set, until ``release`` is."""

    def __init__(self) -> None:
        from aiconsole import probe

        self.real = probe.Sampler(gpu_reader=NoGpus())
        self.release = threading.Event()
        self.hang = False

    def sample(self) -> dict[str, Any]:
        if self.hang:
            self.release.wait(10)
        sample: dict[str, Any] = self.real.sample()
        return sample


async def test_a_hung_sampler_makes_the_host_stale_and_keeps_the_last_sample() -> None:
    sampler = HangingSampler()
    store = FleetStore()
    collector = local(store, sampler=sampler, timeout=0.2)
    await collector.collect_once()
    sampler.hang = True
    state = await collector.collect_once()
    assert (state.status, state.reason) == ("stale", "no sample within 0.2 s")
    assert state.sample is not None  # what was known is still shown
    # The stuck call is not joined by a second one.
    state = await collector.collect_once()
    assert state.status == "stale"
    assert state.reason == "previous sample still running (NVML or a mount hung?)"
    sampler.release.set()
    await asyncio.sleep(0.1)
    assert (await collector.collect_once()).status == "ok"
    collector.close()


async def test_undecodable_probe_output_is_a_probe_error() -> None:
    class Garbage:
        def sample(self) -> dict[str, Any]:
            return {"seq": "not a number"}

    store = FleetStore()
    state = await local(store, sampler=Garbage()).collect_once()
    assert state.status == "probe_error"
    assert state.reason is not None and state.reason.startswith("probe output rejected: ")


async def test_an_unexpected_exception_is_one_line_on_the_host() -> None:
    class Broken:
        def sample(self) -> dict[str, Any]:
            raise RuntimeError("boom\nsecond line")

    state = await local(FleetStore(), sampler=Broken()).collect_once()
    assert (state.status, state.reason) == ("probe_error", "RuntimeError: boom")


async def test_run_keeps_its_schedule_after_failures() -> None:
    calls = 0

    class Flaky:
        def sample(self) -> dict[str, Any]:
            nonlocal calls
            calls += 1
            raise OSError("flaky")

    store = FleetStore()
    task = asyncio.create_task(local(store, sampler=Flaky(), interval=0.05).run())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls >= 3  # kept going after every failure
    assert store.snapshot().hosts[0].status == "probe_error"


def test_store_replaces_and_never_mutates_what_readers_hold() -> None:
    store = FleetStore()
    store.declare(["a", "b"])
    before = store.snapshot()
    version = store.version
    from aiconsole.model import HostState

    store.put(HostState(name="a", status="unreachable", reason="no route"))
    assert [h.status for h in before.hosts] == ["connecting", "connecting"]
    assert [h.status for h in store.snapshot().hosts] == ["unreachable", "connecting"]
    assert store.version > version


# -- a failing host's data age ----------------------------------------------------------------


async def test_a_failing_host_keeps_the_age_of_its_last_good_sample() -> None:
    """A failure must not make old data look fresh: the age keeps counting from the last
    good sample, through any number of failures, and only a good sample resets it."""
    from aiconsole import probe

    real = probe.Sampler(gpu_reader=NoGpus())

    class Failing:
        fail = False

        def sample(self) -> dict[str, Any]:
            if self.fail:
                raise OSError("host went away")
            return real.sample()

    clock = Clock()
    store = FleetStore(clock=clock)
    sampler = Failing()
    collector = local(store, sampler=sampler, clock=clock)
    await collector.collect_once()
    good_at = clock.now
    sampler.fail = True
    for elapsed in (30.0, 35.0):
        clock.now = good_at + elapsed
        state = await collector.collect_once()
        assert state.status == "probe_error"
        assert state.received_at == good_at
        (host,) = store.snapshot().hosts
        assert host.age_s == elapsed
        assert host.sample is not None  # what was known is still shown, with its true age
    sampler.fail = False
    clock.now += 1
    await collector.collect_once()
    assert store.snapshot().hosts[0].age_s == 0.0
    collector.close()


async def test_a_host_that_never_answered_has_no_age() -> None:
    class Broken:
        def sample(self) -> dict[str, Any]:
            raise OSError("no route")

    clock = Clock()
    store = FleetStore(clock=clock)
    await local(store, sampler=Broken(), clock=clock).collect_once()
    (host,) = store.snapshot().hosts
    assert (host.status, host.received_at, host.age_s) == ("probe_error", None, None)


# -- the collector loop's schedule ------------------------------------------------------------


class VirtualTime:
    """Loop time that moves only when the collector sleeps or a sample "takes" time."""

    def __init__(self) -> None:
        self.now = 0.0
        self._real_sleep = asyncio.sleep

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.now += max(delay, 0.0)
        await self._real_sleep(0)


async def test_run_samples_on_a_fixed_grid_whatever_each_sample_costs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ticks are ``interval`` apart from the first, not ``interval`` after each sample ends
    (no drift); a sample slower than the interval is followed at once, and the grid goes on
    from there (missed ticks are skipped, not made up in a burst)."""
    import types

    from aiconsole import probe
    from aiconsole.collectors.base import Collector, decode_sample
    from aiconsole.model import HostSample

    virtual = VirtualTime()
    # The collector imports asyncio where it uses it (the one-shot snapshot has no loop), so
    # the virtual clock stands in for the module it gets while the loop below runs.
    loop_time = types.SimpleNamespace(
        get_running_loop=lambda: virtual, sleep=virtual.sleep, wait_for=asyncio.wait_for
    )
    costs = [0.3, 0.9, 0.1, 2.5, 0.2, 0.2]  # seconds each sample takes, interval 1 s
    starts: list[float] = []
    sample = decode_sample(probe.Sampler(name="timed", gpu_reader=NoGpus()).sample())

    class Costly(Collector):
        async def _collect(self) -> HostSample:
            starts.append(virtual.now)
            virtual.now += costs[len(starts) - 1]
            if len(starts) == len(costs):
                raise asyncio.CancelledError  # enough: end the loop here
            return sample

    collector = Costly("timed", FleetStore(), interval=1.0)
    with monkeypatch.context() as patch, pytest.raises(asyncio.CancelledError):
        patch.setitem(sys.modules, "asyncio", loop_time)
        await collector.run()
    assert starts == pytest.approx([0.0, 1.0, 2.0, 3.0, 5.5, 6.5])
