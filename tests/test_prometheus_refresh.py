"""How the Prometheus source refreshes: the optional recording rules (a valid rule file for
promtool; a real Prometheus that loads it; the source reading the recorded per-host figures,
with the same numbers as the direct queries, and going back to those when the rules are
removed), and a fleet write that does not wait for an open host's drill-down."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiconsole.collectors.prometheus import PrometheusSource
from aiconsole.model import HostState
from aiconsole.prometheus import queries
from aiconsole.prometheus.client import FleetSeries, Series
from aiconsole.prometheus.rules import rules_yaml
from aiconsole.prometheus.settings import PrometheusSettings
from aiconsole.store import FleetStore
from tests.conftest import REPO
from tests.prometheus_server import PROMTOOL, PrometheusServer, Target, poll, scrape_config
from tests.stand_in_exporters import DcgmHost, Endpoint, NodeHost, StandInGpu, endpoints


def test_the_rule_file_is_valid_for_promtool(tmp_path: Path) -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "aiconsole.prometheus.rules", "--interval", "30s"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    assert printed == rules_yaml("30s")
    path = tmp_path / "rules.yml"
    path.write_text(printed)
    checked = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    fields = len(queries.HOST_FIELDS) + sum(len(f) for f in queries.GPU_FIELDS)
    assert f"{fields + len(queries.SLOW_FIELDS)} rules found" in checked.stdout
    with pytest.raises(ValueError):
        rules_yaml("15 s")


def test_the_recorded_reads_ask_for_every_field_the_rules_record_and_no_other() -> None:
    fast = {name for fields in queries.GPU_FIELDS for name in fields} | set(queries.HOST_FIELDS)
    grouped = [name for group in queries.RECORDED_GROUPS for name in group]
    assert sorted(grouped) == sorted(fast)  # each once


def _config(exporters: list[Endpoint], rules: Path | None) -> str:
    dcgm1, node1, dcgm2, node2 = exporters
    dcgm: list[Target] = [(dcgm1.target, {"hostname": "gpu01"}), dcgm2.target]
    node: list[Target] = [(node1.target, {"hostname": "gpu01"})]
    node.append((node2.target, {"hostname": "gpu02"}))
    return scrape_config({"dcgm": dcgm, "node": node}, rule_files=[str(rules)] if rules else None)


@pytest.fixture
def exporters() -> Iterator[list[Endpoint]]:
    gpu01 = DcgmHost("gpu01", [StandInGpu(0, util=87, temp=64), StandInGpu(1, util=3)])
    gpu02 = DcgmHost("gpu02", [StandInGpu(i, util=10 * i, power=100 + i) for i in range(4)])
    with endpoints(gpu01, NodeHost(cpus=8), gpu02, NodeHost(cpus=2)) as running:
        yield running


def _with_rules(exporters: list[Endpoint], tmp_path: Path, interval: str) -> PrometheusServer:
    """A Prometheus scraping ``exporters`` with the rules loaded, once both groups recorded."""
    rules = tmp_path / "aiconsole-rules.yml"
    rules.write_text(rules_yaml(interval, interval))
    prometheus = PrometheusServer(tmp_path / "prometheus", _config(exporters, rules))
    try:
        prometheus.wait_ready()
        # Every recorded figure of both hosts, from both exporters (a slow evaluation that ran
        # before the first scrape of a dcgm-exporter would lack that host's GPU count).
        for record, field in (
            (queries.RECORDED, "gpu_util"),
            (queries.RECORDED, "at"),
            (queries.RECORDED_SLOW, "gpu_count"),
            (queries.RECORDED_SLOW, "cpus"),
        ):
            prometheus.wait_for_series(f'{record}{{{queries.FIELD}="{field}"}}', count=2)
    except BaseException:
        prometheus.stop()
        raise
    return prometheus


def _figures(state: HostState | None) -> tuple[object, ...]:
    assert state is not None and state.status == "ok", state
    sample = state.sample
    assert sample is not None and sample.gpu.totals is not None
    totals = sample.gpu.totals
    return (
        totals.count,
        totals.util_mean_percent,
        totals.temperature_max_c,
        totals.memory_used_bytes,
        totals.memory_total_bytes,
        totals.power_draw_w,
        sample.cpu.count,
        sample.memory.total_bytes,
        sample.memory.available_bytes,
        sample.cpu.load1,
    )


def test_the_source_reads_recorded_figures_and_falls_back_without_them(
    exporters: list[Endpoint], tmp_path: Path
) -> None:
    prometheus = _with_rules(exporters, tmp_path, "1s")
    try:
        prometheus.wait_for_series('rate(node_cpu_seconds_total{mode="idle"}[1m])', count=10)
        store = FleetStore()
        source = PrometheusSource(PrometheusSettings(url=prometheus.url), store)
        asyncio.run(source.poll_once())
        assert source._recorded
        recorded = {name: _figures(store.get(name)) for name in ("gpu01", "gpu02")}
        assert recorded["gpu01"][:3] == (2, (87 + 3) / 2, 64)
        assert recorded["gpu02"][0] == 4 and recorded["gpu02"][6] == 2
        # The same numbers by the direct queries (a source that finds no rules).
        direct_store = FleetStore()
        direct = PrometheusSource(PrometheusSettings(url=prometheus.url), direct_store)
        direct._recorded_checked_at = float("inf")  # as if it had just found none
        asyncio.run(direct.poll_once())
        assert not direct._recorded
        assert {n: _figures(direct_store.get(n)) for n in recorded} == recorded

        # The rules are removed: their series go stale and the source asks directly again,
        # in the same refresh (no empty fleet in between).
        prometheus.reload(_config(exporters, None))

        def rules_gone() -> bool:
            return not prometheus.query(queries.RECORDED)

        poll(rules_gone, 60, "the recorded series never went stale")
        asyncio.run(source.poll_once())
        assert not source._recorded
        assert {n: _figures(store.get(n)) for n in recorded} == recorded
    finally:
        prometheus.stop()


async def test_recorded_figures_are_read_again_only_after_the_rules_evaluate(
    exporters: list[Endpoint], tmp_path: Path
) -> None:
    prometheus = _with_rules(exporters, tmp_path, "5s")
    try:
        store = FleetStore()
        source = PrometheusSource(PrometheusSettings(url=prometheus.url), store)
        asked: list[str] = []
        ask = source.client.query_fleet

        async def counted(promql: str, timeout: float | None = None) -> list[FleetSeries]:
            asked.append(promql)
            return await ask(promql, timeout)

        source.client.query_fleet = counted  # type: ignore[method-assign]
        await source.poll_once()
        await source.poll_once()  # the second read learns when the rules last evaluated
        assert source._recorded

        def evaluated() -> float:
            (found,) = prometheus.query(
                f'timestamp({queries.RECORDED}{{{queries.FIELD}="gpu_util",Hostname="gpu02"}})'
            )
            return float(found["value"][1])

        full_reads = set(queries.RECORDED_FLEET)
        skipped = False
        for _ in range(10):  # a refresh that falls between two evaluations of the rules
            before, states = evaluated(), {n: store.get(n) for n in ("gpu01", "gpu02")}
            asked.clear()
            await source.poll_once()
            if evaluated() == before == source._rules_clock.read_at:
                assert not full_reads & set(asked), asked
                assert queries.UP in asked and len(asked) == 2  # the marker and up == 0
                assert all(store.get(n) is state for n, state in states.items())  # not rebuilt
                skipped = True
                break
        assert skipped, "every refresh met an evaluation of the rules"

        # New figures land with the next evaluation, and the next refresh reads them.
        assert _figures(store.get("gpu01"))[1] == (87 + 3) / 2
        dcgm = exporters[0].source
        assert isinstance(dcgm, DcgmHost)
        dcgm.gpus[1].util = 53
        recorded_70 = f'{queries.RECORDED}{{{queries.FIELD}="gpu_util"}} == 70'
        poll(lambda: bool(prometheus.query(recorded_70)), 60, "the new figure was never recorded")
        asked.clear()
        await source.poll_once()
        assert full_reads <= set(asked)
        assert _figures(store.get("gpu01"))[1] == 70
    finally:
        prometheus.stop()


async def test_the_fleet_is_written_before_a_slow_drill_down_returns(
    exporters: list[Endpoint], tmp_path: Path
) -> None:
    prometheus = PrometheusServer(tmp_path / "prometheus", _config(exporters, None))
    try:
        prometheus.wait_ready()
        prometheus.wait_for_series("DCGM_FI_DEV_GPU_UTIL", count=6)
        store = FleetStore()
        source = PrometheusSource(PrometheusSettings(url=prometheus.url), store)
        await source.poll_once()
        source.focus("gpu01")
        await source.poll_once()
        opened = store.get("gpu01")
        assert opened is not None and opened.sample is not None
        assert [g.index for g in opened.sample.gpu.gpus] == [0, 1]
        # The next drill-down is held back (a slow server); the fleet must not wait for it.
        gate = asyncio.Event()
        ask = source.client.query

        async def held(promql: str, timeout: float | None = None) -> list[Series]:
            await gate.wait()
            return await ask(promql, timeout)

        source.client.query = held  # type: ignore[method-assign]
        source._seen.clear()  # every host rebuilt, as after a scrape of all of them
        before = store.version
        refresh = asyncio.create_task(source.poll_once())
        deadline = asyncio.get_running_loop().time() + 30
        while store.version == before:
            assert asyncio.get_running_loop().time() < deadline, "the fleet waited"
            await asyncio.sleep(0.05)
        assert not refresh.done()
        waiting = store.get("gpu01")
        assert waiting is not None and waiting.sample is not None
        assert waiting.sample.seq > opened.sample.seq  # this refresh's figures ...
        assert waiting.sample.gpu.gpus == opened.sample.gpu.gpus  # ... and the last detail
        gate.set()
        await refresh
        detailed = store.get("gpu01")
        assert detailed is not None and detailed.sample is not None
        assert detailed.sample.seq == waiting.sample.seq
        assert [g.util_gpu_percent for g in detailed.sample.gpu.gpus] == [87, 3]
    finally:
        prometheus.stop()


def test_fleet_values_are_numbers_including_infinities_and_nan(tmp_path: Path) -> None:
    import math

    from aiconsole.prometheus.client import PrometheusClient

    prometheus = PrometheusServer(tmp_path / "prometheus", scrape_config({}))
    try:
        prometheus.wait_ready()
        values = ["+Inf", "-Inf", "NaN", "1e3", "0.25"]
        promql = " or ".join(
            f'label_replace(vector({value}), "hostname", "h{index}", "", "")'
            for index, value in enumerate(values)
        )
        client = PrometheusClient(PrometheusSettings(url=prometheus.url))
        answer = client.query_fleet_sync(promql)
        got = {series.metric.hostname: series.value.value for series in answer}
        assert got["h0"] == math.inf and got["h1"] == -math.inf and math.isnan(got["h2"])
        assert (got["h3"], got["h4"]) == (1000.0, 0.25)
    finally:
        prometheus.stop()
