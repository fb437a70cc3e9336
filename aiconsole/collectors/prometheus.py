"""Reads a whole fleet from an existing Prometheus: dcgm-exporter, node_exporter and ``up``.

One refresh is four aggregated queries (five once a minute) however large the fleet (see
:mod:`aiconsole.prometheus.queries`), written to the store in one replacement; where the
optional recording rules are loaded (:mod:`aiconsole.prometheus.rules`), it reads the
series they record instead, and the server aggregates nothing at refresh time; those change
only when the rules evaluate, so until then a refresh asks only whether they did and which
targets fail (:mod:`aiconsole.prometheus.rules_clock`). Hosts that
are open on screen (:meth:`PrometheusSource.focus`) also get their raw series each refresh,
so the host screen shows each GPU, filesystem and NIC; the fleet does not wait for them.

A host's data age is its newest sample's timestamp in Prometheus, not the time of the query.
A host whose series vanished stays in the fleet, ``stale``, with its last figures and the
reason; so does every host when Prometheus itself cannot be asked.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import msgspec

from aiconsole.gc_pause import cyclic_gc_paused
from aiconsole.model import HostSample, HostState, HostStatus
from aiconsole.prometheus import queries
from aiconsole.prometheus.client import (
    FleetLabels,
    FleetSeries,
    PrometheusClient,
    PrometheusUnavailable,
    Series,
)
from aiconsole.prometheus.detail import (
    filesystems_of,
    gpus_of,
    nics_of,
    virtual_nic,
    xid_notice,
)
from aiconsole.prometheus.fleet import (
    HostFigures,
    HostKey,
    HostKeys,
    gather,
    group_by_host,
    sample_of,
)
from aiconsole.prometheus.rules_clock import RulesClock
from aiconsole.prometheus.settings import PrometheusSettings
from aiconsole.prometheus.trouble import Trouble, TroubleWatch, with_trouble
from aiconsole.store import FleetStore

STALE_AFTER_S = 90.0
"""A host whose newest sample is older than this is ``stale`` (scrapes stopped landing)."""
FOCUS_LIMIT = 4
"""Hosts drilled into on every refresh: the ones opened most recently."""
DETAIL_ALL_LIMIT = 32
"""A one-shot snapshot of a fleet this small drills into every host."""
SLOW_EVERY_S = 60.0
"""How often the figures that hardly change (GPU and CPU counts, framebuffer size) are read."""


class PrometheusSource:
    """A fleet source: every host Prometheus knows, refreshed together."""

    def __init__(
        self,
        settings: PrometheusSettings,
        store: FleetStore,
        *,
        interval: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = PrometheusClient(settings)
        self.store = store
        self.interval = interval
        self.name = f"prometheus {urlsplit(settings.url).netloc}"
        """The row shown for the source itself while it has never answered."""
        self._clock = clock
        self._seq = 0
        self._keys: dict[str, HostKey] = {}
        self._host_keys = HostKeys()
        self._seen: dict[str, tuple[dict[str, float], list[str], Trouble | None]] = {}
        self._handed_over: frozenset[str] = frozenset()
        self._slow: dict[str, dict[str, float]] = {}
        self._slow_at = -SLOW_EVERY_S
        self._recorded = False
        """Whether the fleet figures are read from recording rules (see :meth:`_read`)."""
        self._recorded_checked_at = -SLOW_EVERY_S
        self._focus: OrderedDict[str, None] = OrderedDict()
        self._placeholder = False
        self._rules_clock = RulesClock(self.client)
        self._last_fleet: list[list[FleetSeries]] | None = None
        """The last full read of the recorded figures (None: read them in full next time)."""
        self._last_by_host: dict[str, HostFigures] = {}
        self._last_down: list[FleetLabels] = []
        self.trouble = TroubleWatch(self.client)
        """The fleet's GPUs in trouble (see :mod:`aiconsole.prometheus.trouble`)."""

    def hand_over(self, names: set[str]) -> None:
        """Leave these hosts to another collector (a live SSH stream) until told otherwise."""
        for name in self._handed_over | names:
            self._seen.pop(name, None)  # its state is not ours to keep as it is
        self._handed_over = frozenset(names)

    def focus(self, host: str) -> None:
        """Drill into ``host`` on every refresh from now on (the few most recent hosts)."""
        self._focus[host] = None
        self._focus.move_to_end(host)
        while len(self._focus) > FOCUS_LIMIT:
            self._focus.popitem(last=False)

    async def collect_for_snapshot(self, window: float) -> None:
        """One refresh for ``snapshot``: a small fleet is drilled into host by host."""
        await self.poll_once(detail_all=True)

    async def _read(self) -> dict[str, HostFigures]:
        """The fleet queries, concurrently; their answers grouped by host. Recorded figures
        (:mod:`aiconsole.prometheus.rules`) are read where the server keeps them."""
        now = time.monotonic()
        if self._recorded or now - self._recorded_checked_at >= SLOW_EVERY_S:
            by_host = await self._read_with(
                queries.RECORDED_FLEET, queries.RECORDED_SLOW, recorded=True
            )
            self._recorded_checked_at = now
            if by_host is not None:
                if not self._recorded:
                    self._slow_at = -SLOW_EVERY_S  # the slow figures: from the rules too
                self._recorded = True
                return by_host
            if self._recorded:
                self._slow_at = -SLOW_EVERY_S
            self._recorded = False
        by_host = await self._read_with(
            (*queries.GPU_FLEET, queries.HOST_FLEET), queries.SLOW, recorded=False
        )
        assert by_host is not None
        return by_host

    async def _read_with(
        self, fleet_queries: tuple[str, ...], slow_query: str, *, recorded: bool
    ) -> dict[str, HostFigures] | None:
        """One set of fleet queries; None when they read recording rules that are not there
        (no recorded series at all). Recorded figures are not read again until the rules
        have evaluated again (see :class:`RulesClock`): the failing targets still are."""
        evaluated_at = await self._rules_clock.evaluated_at() if recorded else None
        unchanged = self._last_fleet is not None and self._rules_clock.unchanged(evaluated_at)
        asked = () if unchanged else fleet_queries
        wanted = [*asked, queries.UP]
        slow_due = time.monotonic() - self._slow_at >= SLOW_EVERY_S
        if slow_due:
            wanted.append(slow_query)
        answers = await asyncio.gather(*(self.client.query_fleet(q) for q in wanted))
        if recorded and not unchanged and not any(answers[: len(asked)]):
            self._last_fleet = None
            return None
        if slow_due:
            self._slow, self._slow_at = (
                group_by_host(self._host_keys, answers.pop()),
                time.monotonic(),
            )
        *fleet, down = answers
        down_labels = [series.metric for series in down]
        if unchanged:
            assert self._last_fleet is not None
            fleet = self._last_fleet
            if not slow_due and self._last_by_host and down_labels == self._last_down:
                return self._last_by_host  # the same figures: the same objects, nothing rebuilt
        elif recorded:
            self._last_fleet = fleet
            self._rules_clock.read_at = evaluated_at
            self._rules_clock.choose_marker(fleet)
        else:
            self._last_fleet = None
        with cyclic_gc_paused():
            hosts = gather(self._host_keys, fleet, down, self._slow)
        if not slow_due and any(f.lacks_slow_fields() for f in hosts.values()):
            self._slow = group_by_host(self._host_keys, await self.client.query_fleet(slow_query))
            self._slow_at = time.monotonic()
            hosts = gather(self._host_keys, fleet, down, self._slow)
        self._last_by_host, self._last_down = hosts, down_labels
        return hosts

    async def poll_once(self, detail_all: bool = False) -> None:
        """One refresh of the whole fleet, written to the store in one replacement (and the
        open hosts' drill-down in a second one, if it was not back by then)."""
        # Open hosts' detail is asked at the same time as the fleet, not after it.
        known = [n for n in self._focus if n in self._keys and n not in self._handed_over]
        details = asyncio.ensure_future(self._ask_details(known))
        self.trouble.take_answer()
        trouble = asyncio.ensure_future(self.trouble.ask_now()) if detail_all else None
        try:
            by_host = await self._read()
        except PrometheusUnavailable as error:
            details.cancel()
            if trouble is not None:
                trouble.cancel()
            self._unreachable(str(error))
            return
        if trouble is not None:
            await trouble
        with cyclic_gc_paused():
            figures, states = self._states(by_host)
        self._keys.update({name: f.key for name, f in figures.items()})
        if self._placeholder:
            self.store.drop([self.name])
            self._placeholder = False
        if not details.done() and not detail_all:
            # The fleet does not wait for an open host's drill-down: it is written now, the
            # open hosts keeping their last per-GPU detail until the new one arrives.
            self.store.put_many(self._keeping_detail(states, known).values())
            self.trouble.ask_if_due()  # the fleet is written: the server is free to answer
            answers = await details
            self._apply_details(states, answers)
            self.store.put_many(states[name] for name in answers if name in states)
            return
        answers = await details
        if detail_all and len(figures) <= DETAIL_ALL_LIMIT:
            answers.update(await self._ask_details([n for n in figures if n not in answers]))
        self._apply_details(states, answers)
        self.store.put_many(states.values())
        if not detail_all:
            self.trouble.ask_if_due()

    def _states(
        self, by_host: dict[str, HostFigures]
    ) -> tuple[dict[str, HostFigures], dict[str, HostState]]:
        """This refresh's hosts with data (or failing targets), and every host's new state."""
        now = self._clock()
        self._seq += 1
        figures = {
            name: host for name, host in by_host.items() if host.has_data or host.targets_down
        }
        states: dict[str, HostState] = {}
        stale_after = max(STALE_AFTER_S, 3 * self.interval)
        for name, found in figures.items():
            if name == self.name or name in self._handed_over:
                continue
            previous = self.store.get(name)
            seen = (found.values, found.targets_down, self.trouble.by_host.get(name))
            at = found.at()
            if (
                # Nothing new since the last refresh (Prometheus scrapes less often than we
                # ask): the host's state stands, and building it again would cost the same.
                previous is not None
                and previous.status == "ok"
                and self._seen.get(name) == seen
                and name not in self._focus
                and (at is None or now - at <= stale_after)
            ):
                states[name] = previous
            else:
                states[name] = self._state(found, now, at, previous)
            self._seen[name] = seen
        for name in self._keys.keys() - figures.keys() - self._handed_over:
            states[name] = self._vanished(name)
        return figures, states

    def _keeping_detail(
        self, states: dict[str, HostState], names: Iterable[str]
    ) -> dict[str, HostState]:
        """``states`` with the named hosts' per-GPU, filesystem and NIC detail taken from
        what the store holds (so an open host screen does not lose it for a moment)."""
        kept = dict(states)
        for name in names:
            state, previous = states.get(name), self.store.get(name)
            if state is None or state.sample is None or previous is None:
                continue
            old = previous.sample
            if old is None or not old.gpu.gpus:
                continue  # (the fleet's own GPUs are only those in trouble: the detail has all)
            sample = state.sample
            kept[name] = msgspec.structs.replace(
                state,
                sample=msgspec.structs.replace(
                    sample,
                    gpu=msgspec.structs.replace(sample.gpu, gpus=old.gpu.gpus),
                    filesystems=old.filesystems or sample.filesystems,
                    nics=old.nics or sample.nics,
                ),
            )
        return kept

    async def _ask_details(self, names: Iterable[str]) -> dict[str, list[Series] | Exception]:
        """Each named host's raw series (or why they could not be had)."""
        names = [n for n in names if n in self._keys and n not in self._handed_over]
        answers = await asyncio.gather(
            *(
                self.client.query(queries.drill_down(self._keys[n].label, self._keys[n].raw))
                for n in names
            ),
            return_exceptions=True,
        )
        found: dict[str, list[Series] | Exception] = {}
        for name, answer in zip(names, answers, strict=True):
            if isinstance(answer, BaseException) and not isinstance(answer, Exception):
                raise answer  # cancellation and the like are not answers
            found[name] = answer
        return found

    def _apply_details(
        self, states: dict[str, HostState], answers: dict[str, list[Series] | Exception]
    ) -> None:
        for name, answer in answers.items():
            state = states.get(name)
            if state is None or state.sample is None:
                continue
            if isinstance(answer, Exception):
                if not isinstance(answer, PrometheusUnavailable):
                    raise answer
                states[name] = msgspec.structs.replace(state, reason=f"detail: {answer}")
                continue
            assert state.sample is not None
            states[name] = msgspec.structs.replace(
                state,
                sample=self._detailed(state.sample, answer),
                reason=state.reason if state.status != "ok" else xid_notice(answer),
            )

    def _detailed(self, sample: HostSample, series: list[Series]) -> HostSample:
        gpus, _ = gpus_of(series)
        section = sample.gpu
        if gpus:
            section = msgspec.structs.replace(section, gpus=gpus)
        return msgspec.structs.replace(
            sample,
            gpu=section,
            filesystems=filesystems_of(series) or sample.filesystems,
            nics=nics_of(series, virtual_nic) or sample.nics,
        )

    def _state(
        self, figures: HostFigures, now: float, at: float | None, previous: HostState | None
    ) -> HostState:
        """The host's state from this refresh's figures; ``previous``: what the store holds."""
        name = figures.key.name
        down = ", ".join(figures.targets_down)
        if not figures.has_data:
            return HostState(
                name=name,
                status="unreachable" if previous is None or previous.sample is None else "stale",
                reason=f"scrape failing (up == 0): {down}",
                received_at=previous.received_at if previous else None,
                sample=previous.sample if previous else None,
            )
        trouble = self.trouble.by_host.get(name)
        sample = with_trouble(sample_of(figures, self._seq, now, at), trouble)
        age = None if at is None else now - at
        status: HostStatus = "ok"
        reason = None
        known = previous.sample if previous is not None else None
        if known is not None and known.gpu.status == "ok" and sample.gpu.status != "ok":
            # The GPUs did not leave the machine: their exporter's series did. Say so.
            sample = msgspec.structs.replace(sample, gpu=known.gpu)
            status, reason = "stale", "its dcgm-exporter series vanished from Prometheus"
        if age is not None and age > max(STALE_AFTER_S, 3 * self.interval):
            status, reason = "stale", f"newest sample in Prometheus is {age:.0f} s old"
        if down:
            status, reason = "stale", f"scrape failing (up == 0): {down}"
        return HostState(
            name=name,
            status=status,
            reason=reason,
            received_at=at if at is not None else now,
            sample=sample,
        )

    def _vanished(self, name: str) -> HostState:
        previous = self.store.get(name)
        return HostState(
            name=name,
            status="stale",
            reason="its series vanished from Prometheus (target gone or no longer scraped)",
            received_at=previous.received_at if previous else None,
            sample=previous.sample if previous else None,
        )

    def _unreachable(self, reason: str) -> None:
        if not self._keys:
            self.store.put(HostState(name=self.name, status="unreachable", reason=reason))
            self._placeholder = True
            return
        states = []
        for name in self._keys:
            previous = self.store.get(name)
            states.append(
                HostState(
                    name=name,
                    status="stale",
                    reason=reason,
                    received_at=previous.received_at if previous else None,
                    sample=previous.sample if previous else None,
                )
            )
        self.store.put_many(states)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self.poll_once()
            await asyncio.sleep(max(0.0, self.interval - (loop.time() - started)))

    def close(self) -> None:
        """Nothing held open between queries but a question about the GPUs in trouble."""
        self.trouble.close()
