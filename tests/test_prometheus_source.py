"""``--prometheus URL``: the fleet read back from a real Prometheus that scrapes stand-in
dcgm-exporter and node_exporter endpoints; staleness and a dead server with reasons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from aiconsole.collectors.prometheus import PrometheusSource
from aiconsole.health.monitor import HealthMonitor
from aiconsole.model import FleetSnapshot, HostState
from aiconsole.prometheus.settings import PrometheusSettings
from aiconsole.store import FleetStore
from aiconsole.summary import summarize
from aiconsole.text import is_clean
from tests.conftest import run_aiconsole
from tests.prometheus_server import PrometheusServer, Target, free_port, poll, scrape_config
from tests.stand_in_exporters import DcgmHost, Endpoint, NodeHost, StandInGpu, endpoints

HOSTILE = "evil\x1b]52;c;cm0gLXJmIH4=\x07host"


class Estate:
    """Two GPU hosts behind a real Prometheus: gpu01 labelled ``hostname`` on both targets,
    gpu02 known by dcgm-exporter's own ``Hostname`` on one and ``hostname`` on the other."""

    def __init__(self, workdir: Path, exporters: list[Endpoint]) -> None:
        self.dcgm1, self.node1, self.dcgm2, self.node2, self.hostile = exporters
        self.prometheus = PrometheusServer(workdir, self.config())
        self.prometheus.wait_ready()

    def config(self, with_gpu02: bool = True) -> str:
        dcgm: list[Target] = [(self.dcgm1.target, {"hostname": "gpu01"}), self.hostile.target]
        node: list[Target] = [(self.node1.target, {"hostname": "gpu01"})]
        if with_gpu02:
            dcgm.append(self.dcgm2.target)  # only the exporter's own Hostname label
            node.append((self.node2.target, {"hostname": "gpu02"}))
        return scrape_config({"dcgm": dcgm, "node": node})

    def wait_scraped(self) -> None:
        self.prometheus.wait_for_series("DCGM_FI_DEV_GPU_UTIL", count=7)
        self.prometheus.wait_for_series("node_memory_MemTotal_bytes", count=2)
        # rate() over the CPU counters needs two scrapes of each node.
        self.prometheus.wait_for_series('rate(node_cpu_seconds_total{mode="idle"}[1m])', count=8)


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[Estate]:
    gpu01 = DcgmHost("gpu01", [StandInGpu(0, util=87, temp=64), StandInGpu(1, util=3, xid=79)])
    gpu02 = DcgmHost("gpu02", [StandInGpu(i, util=10 * i, power=100 + i) for i in range(4)])
    hostile = DcgmHost(HOSTILE, [StandInGpu(0)])
    with endpoints(gpu01, NodeHost(cpus=8), gpu02, NodeHost(cpus=2), hostile) as exporters:
        running = Estate(tmp_path / "prometheus", exporters)
        try:
            running.wait_scraped()
            yield running
        finally:
            running.prometheus.stop()


def by_name(snapshot: FleetSnapshot) -> dict[str, HostState]:
    return {host.name: host for host in snapshot.hosts}


def test_snapshot_json_shows_the_exporters_numbers(estate: Estate) -> None:
    code, stdout, stderr = run_aiconsole(
        "--prometheus", estate.prometheus.url, "snapshot", "--json", env={"PATH": "/usr/bin"}
    )
    assert code == 0, stderr
    hosts = by_name(msgspec.json.decode(stdout, type=FleetSnapshot))
    assert {"gpu01", "gpu02"} <= hosts.keys()
    gpu01, gpu02 = hosts["gpu01"], hosts["gpu02"]
    assert gpu01.status == "ok" and gpu02.status == "ok"
    assert gpu01.sample is not None and gpu02.sample is not None
    gpus = gpu01.sample.gpu.gpus
    assert [g.index for g in gpus] == [0, 1]
    assert gpus[0].util_gpu_percent == 87 and gpus[0].temperature_c == 64
    assert gpus[0].memory_used_bytes == 20480 * 2**20
    assert gpus[0].memory_total_bytes == (20480 + 61440) * 2**20
    assert gpus[0].uuid == "GPU-gpu01-0" and gpus[0].name == "NVIDIA H100 80GB HBM3"
    assert gpus[1].sm_clock_mhz == 1980
    assert [g.power_draw_w for g in gpu02.sample.gpu.gpus] == [100, 101, 102, 103]
    totals = gpu02.sample.gpu.totals
    assert totals is not None and totals.count == 4 and totals.power_draw_w == 406
    assert totals.util_mean_percent == 15
    assert gpu01.sample.cpu.count == 8 and gpu02.sample.cpu.count == 2
    assert gpu01.sample.memory.total_bytes == 64 * 1024**3
    assert gpu01.sample.memory.used_bytes == 16 * 1024**3
    assert gpu01.sample.cpu.load1 == 1.5
    assert [(f.mount, f.size_bytes, f.free_bytes) for f in gpu01.sample.filesystems] == [
        ("/", 10**12, 4 * 10**11)
    ]
    assert gpu01.reason == "GPU 1: last XID 79 (GPU has fallen off the bus)"
    assert gpu01.age_s is not None and gpu01.age_s >= 0
    # A hostile host name arrives cleaned: no raw escape reaches a terminal.
    assert all(is_clean(name) for name in hosts)
    assert any(name.startswith("evil␛]52") for name in hosts)


async def test_failing_and_vanished_targets_turn_hosts_stale_with_reasons(
    estate: Estate,
) -> None:
    store = FleetStore()
    source = PrometheusSource(PrometheusSettings(url=estate.prometheus.url), store)
    await source.poll_once()
    assert store.get("gpu01").status == "ok"  # type: ignore[union-attr]
    assert store.get("gpu02").status == "ok"  # type: ignore[union-attr]

    estate.node1.failing = True
    estate.prometheus.wait_for_series('up{job="node", hostname="gpu01"} == 0')
    await source.poll_once()
    gpu01 = store.get("gpu01")
    assert gpu01 is not None and gpu01.status == "stale"
    assert gpu01.reason == f"scrape failing (up == 0): node ({estate.node1.target})"

    estate.prometheus.reload(estate.config(with_gpu02=False))
    prometheus = estate.prometheus

    def gone() -> bool:
        return not prometheus.query('{hostname="gpu02"} or {Hostname="gpu02"}')

    poll(gone, 60, "gpu02's series never left Prometheus")
    await source.poll_once()
    gpu02 = store.get("gpu02")
    assert gpu02 is not None and gpu02.status == "stale"
    assert gpu02.reason == "its series vanished from Prometheus (target gone or no longer scraped)"
    assert gpu02.sample is not None  # the last figures stay visible

    prometheus.stop()
    await source.poll_once()
    for name in ("gpu01", "gpu02"):
        state = store.get(name)
        assert state is not None and state.status == "stale"
        assert state.reason is not None
        assert state.reason.startswith(f"prometheus {prometheus.url}: ")
        assert "refused" in state.reason.lower()


def test_a_dead_prometheus_is_one_row_with_a_reason_not_a_traceback() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, stdout, stderr = run_aiconsole("--prometheus", url, "snapshot", "--json", env={})
    assert code == 2
    assert "Traceback" not in stderr
    (host,) = json.loads(stdout)["hosts"]
    assert host["name"] == f"prometheus {url.removeprefix('http://')}"
    assert host["status"] == "unreachable"
    assert host["reason"].startswith(f"prometheus {url}: ")
    code, stdout, stderr = run_aiconsole("--prometheus", "ftp://x", "snapshot", env={})
    assert code == 64  # a bad option value is a usage error
    assert stderr == "aiconsole: error: --prometheus: 'ftp://x' is not an http:// or https:// URL\n"


async def test_tui_lists_the_fleet_and_opening_a_host_fetches_its_gpus(estate: Estate) -> None:
    from aiconsole.app import ConsoleApp
    from aiconsole.fleet import prometheus_fleet
    from aiconsole.screens.host import HostScreen
    from tests.test_screens import fleet_rows, on_screen, wait_for

    fleet = prometheus_fleet(PrometheusSettings(url=estate.prometheus.url), interval=0.5)
    app = ConsoleApp(fleet, refresh_interval=0.5)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: any(r[0] == "gpu02" for r in fleet_rows(app)))
        row = next(r for r in fleet_rows(app) if r[0] == "gpu02")
        assert row[1] == "ok" and row[6] == "4"  # GPU count from the server-side totals
        state = fleet.store.get("gpu02")
        assert state is not None and state.sample is not None
        assert state.sample.gpu.gpus == ()  # not drilled into before it is opened
        app.open_host("gpu02")
        await wait_for(pilot, on_screen(app, HostScreen))

        def drilled() -> bool:
            state = fleet.store.get("gpu02")
            return (
                state is not None and state.sample is not None and len(state.sample.gpu.gpus) == 4
            )

        await wait_for(pilot, drilled, limit=30)


async def test_a_gpu_in_trouble_is_judged_without_opening_its_host(estate: Estate) -> None:
    store = FleetStore()
    source = PrometheusSource(PrometheusSettings(url=estate.prometheus.url), store)
    await source.poll_once()  # as the TUI refreshes: no host opened, no drill-down
    asked = source.trouble._task  # the GPUs in trouble: asked once the fleet was written ...
    assert asked is not None
    await asked
    await source.poll_once()  # ... and taken in by the next refresh
    gpu01, gpu02 = store.get("gpu01"), store.get("gpu02")
    assert gpu01 is not None and gpu01.sample is not None
    assert gpu02 is not None and gpu02.sample is not None
    section = gpu01.sample.gpu
    assert [gpu.index for gpu in section.gpus] == [1]  # only the GPU in trouble
    assert [(e.xid, e.gpu_index, e.source) for e in section.xid_events] == [
        (79, 1, "dcgm-exporter")
    ]
    assert gpu02.sample.gpu.gpus == () and gpu02.sample.gpu.xid_events == ()
    summary = summarize(gpu01)  # the host's figures are still all of its GPUs'
    assert (summary.gpu_count, summary.gpu_util_mean) == (2, (87 + 3) / 2)
    findings = HealthMonitor().update(store.snapshot()).findings
    xids = [f for f in findings if f.rule == "gpu.xid_critical"]
    assert [(f.subject.host, f.subject.name) for f in xids] == [("gpu01", "1:xid79")]
