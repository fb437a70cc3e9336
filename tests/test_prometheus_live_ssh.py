"""A Prometheus fleet host that is also reachable over SSH streams live while it is open."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aiconsole.config import Settings
from aiconsole.fleet import live_ssh_detail, prometheus_fleet
from aiconsole.model import HostState
from aiconsole.prometheus.fleet import PROBE_VERSION
from aiconsole.prometheus.settings import PrometheusSettings
from aiconsole.store import FleetStore
from tests.estate import Estate, available, required
from tests.prometheus_server import PrometheusServer, scrape_config
from tests.stand_in_exporters import DcgmHost, StandInGpu, endpoints

pytestmark = required(available())


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    with Estate(tmp_path_factory.mktemp("estate"), 1) as built:
        yield built


async def until(store: FleetStore, check: Callable[[HostState | None], bool]) -> HostState:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while not check(store.get("h1")):
        assert loop.time() < deadline, f"h1 never got there: {store.get('h1')}"
        await asyncio.sleep(0.1)
    state = store.get("h1")
    assert state is not None
    return state


def source_of(state: HostState | None) -> str | None:
    return state.sample.identity.probe_version if state and state.sample else None


async def test_opening_a_host_streams_it_over_ssh_and_closing_returns_it(
    estate: Estate, tmp_path: Path
) -> None:
    with endpoints(DcgmHost("h1", [StandInGpu(0, util=42)])) as (dcgm,):
        prometheus = PrometheusServer(tmp_path, scrape_config({"dcgm": [dcgm.target]}))
        try:
            prometheus.wait_ready()
            prometheus.wait_for_series('DCGM_FI_DEV_GPU_UTIL{Hostname="h1"}')
            fleet = prometheus_fleet(PrometheusSettings(url=prometheus.url), interval=1)
            (source,) = fleet.feeds
            settings = Settings(
                interval=0.3,
                connect_timeout=2,
                python="/usr/bin/python3",
                reconnect_max=1.0,
                ssh_config=str(estate.ssh_config),
            )
            live = live_ssh_detail(fleet, ["h1"], settings)
            await source.collect_for_snapshot(0)
            assert source_of(fleet.store.get("h1")) == PROBE_VERSION
            assert live.open("h1")
            state = await until(
                fleet.store,
                lambda s: s is not None and s.status == "ok" and source_of(s) != PROBE_VERSION,
            )
            assert state.sample is not None and state.sample.identity.hostname  # the probe's
            await source.collect_for_snapshot(0)  # the fleet source leaves h1 to the stream
            assert source_of(fleet.store.get("h1")) != PROBE_VERSION
            assert not live.open("elsewhere")  # not an SSH host: nothing to stream
            live.close()
            await source.collect_for_snapshot(0)
            assert source_of(fleet.store.get("h1")) == PROBE_VERSION
        finally:
            prometheus.stop()
