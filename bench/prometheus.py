"""Prometheus at fleet scale: the source reading 10,000 hosts x 8 GPUs from a real Prometheus,
and ``serve`` answering scrapes of 1,024 hosts x 8 GPUs.

The Prometheus is Debian's server, its TSDB backfilled with ``promtool tsdb
create-blocks-from openmetrics`` (dcgm-exporter series with their labels, node_exporter
series with ``hostname``), so queries run against real blocks. Baselines in the same run:
the raw unaggregated query of the same metrics (decoded by the same client) and curl of
that query (wire time alone). Prints figures; asserts nothing.

Targets: a refresh <= 1 s end to end and <= 0.3 s console CPU; fleet render < 100 ms at
10,000 rows; a scrape of 1,024 x 8 < 50 ms.

    .venv/bin/python bench/prometheus.py [--hosts 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiconsole.collectors.prometheus import PrometheusSource
from aiconsole.fleet import Fleet
from aiconsole.prometheus import queries
from aiconsole.prometheus.client import PrometheusClient
from aiconsole.prometheus.rules import rules_yaml
from aiconsole.prometheus.settings import PrometheusSettings
from aiconsole.prometheus.trouble import TROUBLE
from aiconsole.store import FleetStore
from bench.prometheus_data import GPUS, bench_config, write_openmetrics
from tests.prometheus_server import PROMTOOL, PrometheusServer

RAW_QUERY = (
    '{__name__=~"DCGM_FI_DEV_(GPU_UTIL|FB_USED|FB_FREE|GPU_TEMP|POWER_USAGE)'
    '|node_memory_Mem(Total|Available)_bytes|node_load(1|5|15)|node_cpu_seconds_total"}'
)
"""The same metrics the refresh reads, unaggregated: what a naive client would ask."""


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def curl(url: str, promql: str) -> tuple[float, int]:
    """Wall time and compressed bytes of one query, with curl (no decoding)."""
    out = subprocess.run(
        [
            "curl",
            "-s",
            "--compressed",
            "-o",
            "/dev/null",
            "-w",
            "%{time_total} %{size_download}",
            "--data-urlencode",
            f"query={promql}",
            f"{url}/api/v1/query",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), int(out[1])


async def bench_refresh(
    server: PrometheusServer, runs: int, how: str
) -> tuple[list[tuple[str, str]], PrometheusSource, FleetStore]:
    """Refresh figures; ``how`` names the way the source reads the fleet in this phase."""
    rows: list[tuple[str, str]] = []
    store = FleetStore()
    source = PrometheusSource(PrometheusSettings(url=server.url, timeout=60), store)
    # The question about the GPUs in trouble runs between refreshes (every 30 s): timed on
    # its own below, and kept out of these figures, where it would overlap the next one.
    source.trouble.every_s = float("inf")
    await source.poll_once()  # warm: Prometheus's caches, our imports
    rows.append(
        (
            f"[{how}] fleet figures read from",
            "recording rules" if source._recorded else "direct queries",
        )
    )
    figures: dict[str, tuple[list[float], list[float], list[float]]] = {
        "every host changed": ([], [], []),
        "nothing new since the last scrape": ([], [], []),
    }
    if source._recorded:
        figures["the rules not evaluated since the last refresh"] = ([], [], [])
    for _ in range(runs):
        for case, (walls, cpus, server_cpus) in figures.items():
            if case == "every host changed":
                source._seen.clear()  # as right after a scrape of every target: all rebuilt
            if not case.startswith("the rules"):
                source._rules_clock.read_at = None  # as after an evaluation: read in full
            server_before = process_cpu_s(server.process.pid)
            cpu, wall = time.process_time(), time.perf_counter()
            await source.poll_once()
            snapshot = store.snapshot()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            server_cpus.append(process_cpu_s(server.process.pid) - server_before)
    statuses: dict[str, int] = {}
    for host in snapshot.hosts:
        statuses[host.status] = statuses.get(host.status, 0) + 1
    ages = [host.age_s for host in snapshot.hosts if host.age_s is not None]
    rows.append(
        (
            f"[{how}] fleet snapshot",
            f"{len(snapshot.hosts)} hosts {statuses}, data age median "
            f"{statistics.median(ages):.0f} s",
        )
    )
    for case, (walls, cpus, server_cpus) in figures.items():
        rows.append((f"[{how}] refresh ({case}): tick to complete snapshot", ms(walls)))
        rows.append((f"[{how}] refresh ({case}): console CPU", ms(cpus)))
        rows.append((f"[{how}] refresh ({case}): Prometheus CPU", ms(server_cpus)))
    rows.append((f"[{how}] console RSS after refreshes", f"{rss_mib():.0f} MiB"))
    return rows, source, store


async def bench_source(
    server: PrometheusServer, hosts: int, runs: int
) -> tuple[list[tuple[str, str]], FleetStore]:
    """The direct phase's figures, and the store it filled (for the screen's figures)."""
    rows, source, store = await bench_refresh(server, runs, "direct")
    source.focus("gpu00042")
    cpu, wall = time.process_time(), time.perf_counter()
    await source.poll_once()
    rows.append(
        (
            "refresh with one host opened (drill-down)",
            f"{(time.perf_counter() - wall) * 1000:.0f} ms wall, "
            f"{(time.process_time() - cpu) * 1000:.0f} ms CPU",
        )
    )
    for name, promql in (
        ("GPU (1 of 2)", queries.GPU_FLEET[0]),
        ("GPU (2 of 2)", queries.GPU_FLEET[1]),
        ("host", queries.HOST_FLEET),
        ("up == 0", queries.UP),
        ("GPUs in trouble", TROUBLE),
    ):
        seconds, size = curl(server.url, promql)
        rows.append(
            (
                f"curl of the {name} fleet query",
                f"{seconds * 1000:.0f} ms, {size / 1e6:.2f} MB gzipped",
            )
        )
    client = PrometheusClient(PrometheusSettings(url=server.url, timeout=60))
    cpu, wall = time.process_time(), time.perf_counter()
    raw = await client.query(RAW_QUERY)
    rows.append(
        (
            "baseline: raw unaggregated query, same client",
            f"{len(raw)} series, {(time.perf_counter() - wall) * 1000:.0f} ms wall, "
            f"{(time.process_time() - cpu) * 1000:.0f} ms CPU",
        )
    )
    seconds, size = curl(server.url, RAW_QUERY)
    rows.append(
        (
            "baseline: curl of the raw query (wire only)",
            f"{seconds * 1000:.0f} ms, {size / 1e6:.1f} MB gzipped",
        )
    )
    return rows, store


async def screen_figures(store: FleetStore) -> list[tuple[str, str]]:
    """Drawing and judging the fleet the source read, measured once the bench's Prometheus
    has stopped: on a site it runs on another machine, not on the console's two cores."""
    rows = await render_times(store)
    rows.append(("health judgement per TUI refresh (not in the refresh above)", judge_time(store)))
    return rows


def judge_time(store: FleetStore) -> str:
    """CPU of the live console's health step over the fleet, once per screen refresh."""
    from aiconsole.health.monitor import HealthMonitor

    monitor = HealthMonitor()
    times = []
    for _ in range(4):
        start = time.process_time()
        monitor.update(store.snapshot())
        times.append(time.process_time() - start)
    return ms(times[1:])


async def render_times(store: FleetStore) -> list[tuple[str, str]]:
    """CPU of drawing the fleet screen for a new snapshot: hosts unchanged (only ages moved,
    as between scrapes) and every host with a new sample (as after a scrape of every one)."""
    from aiconsole.app import ConsoleApp

    # The app's own refresh timer is held off: it would run the health judgement (measured
    # on its own, judge_time) inside these figures. What it would hand the screen is judged
    # here once instead, findings and all.
    app = ConsoleApp(Fleet(store), collect=False, refresh_interval=3600)
    for _ in range(4):  # the findings' hysteresis
        snapshot = app.fleet.live_snapshot()
    renewed = msgspec.structs.replace(
        snapshot,
        hosts=tuple(
            h
            if h.sample is None
            else msgspec.structs.replace(h, sample=msgspec.structs.replace(h.sample))
            for h in snapshot.hosts
        ),
    )
    cases: dict[str, list[float]] = {"hosts unchanged": [], "every host changed": []}
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        for case, times in cases.items():  # one case after the other: each its own history
            for n in range(8):
                shown = snapshot if case == "hosts unchanged" else (renewed, snapshot)[n % 2]
                # A new snapshot object each time, as the store gives on every refresh.
                shown = msgspec.structs.replace(shown, generated_at=shown.generated_at + n)
                start = time.process_time()
                app.fleet_snapshot = shown
                await pilot.pause()
                app.screen._compositor.render_update(full=True)
                if n >= 2:
                    times.append(time.process_time() - start)
    return [
        (f"fleet render, {len(snapshot.hosts)} rows ({case}): CPU", ms(times))
        for case, times in cases.items()
    ]


def bench_scrape(hosts: int) -> list[tuple[str, str]]:
    from aiconsole.exporter.server import Published, start
    from tests.synthetic import fleet_store

    snapshots = [fleet_store(hosts, GPUS, 2, seed=s, with_faults=False).snapshot() for s in (1, 2)]
    published = Published()
    server = start(("127.0.0.1", 0), published)
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"

    def scrape() -> tuple[float, int]:
        """As Prometheus would: another process, gzip accepted (curl's own timing)."""
        out = subprocess.run(
            [
                "curl",
                "-s",
                "-H",
                "Accept-Encoding: gzip",
                "-o",
                "/dev/null",
                "-w",
                "%{time_total} %{size_download}",
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout.split()
        return float(out[0]), int(out[1])

    try:
        published.publish(snapshots[0])
        first, size = scrape()
        encode = server.exposition.last_encode_s or 0.0
        warm = [scrape()[0] for _ in range(5)]
        during = []
        published.publish(snapshots[1])  # scrapes meet the encoder at work on it
        while not all(b.version == published.version for b in server.exposition._bodies.values()):
            during.append(scrape()[0])
            time.sleep(0.25)
    finally:
        server.shutdown()
        server.server_close()
    return [
        (
            f"serve: encode {hosts} x {GPUS} (background, once per snapshot)",
            f"{encode * 1000:.0f} ms",
        ),
        (
            "serve: first scrape ever (waits for that encoding)",
            f"{first * 1000:.0f} ms, {size / 1e6:.1f} MB gzipped",
        ),
        ("serve: scrape of an encoded snapshot", ms(warm)),
        ("serve: scrape while a new snapshot is being encoded", ms(during)),
    ]


def bench_fleet(hosts: int, runs: int, rules: bool) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        started = time.perf_counter()
        series = write_openmetrics(work / "fleet.om", hosts, int(time.time()))
        subprocess.run(
            [
                PROMTOOL,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                str(work / "fleet.om"),
                str(work / "data"),
            ],
            check=True,
            capture_output=True,
        )
        (work / "fleet.om").unlink()
        rows.append(
            (
                f"backfill {hosts} hosts x {GPUS} GPUs",
                f"{series} series, {time.perf_counter() - started:.0f} s",
            )
        )
        server = PrometheusServer(work, bench_config())
        try:
            server.wait_ready(timeout=300)
            server.wait_for_series("count(DCGM_FI_DEV_GPU_UTIL) >= 0", timeout=300)
            source_rows, store = asyncio.run(bench_source(server, hosts, runs))
            rows += source_rows
        finally:
            server.stop()
        rows += asyncio.run(screen_figures(store))
        if rules:
            rows += bench_rules(work, hosts, runs)
    return rows


def bench_rules(work: Path, hosts: int, runs: int) -> list[tuple[str, str]]:
    """The same fleet read through the optional recording rules (same TSDB, restarted)."""
    rules = work / "aiconsole-rules.yml"
    rules.write_text(rules_yaml())
    server = PrometheusServer(work, bench_config([str(rules)]))
    try:
        server.wait_ready(timeout=300)
        started = time.perf_counter()
        for record, field in ((queries.RECORDED, "at"), (queries.RECORDED_SLOW, "gpu_count")):
            server.wait_for_series(
                f'count({record}{{{queries.FIELD}="{field}"}}) == {hosts}', timeout=180
            )
        rows = [
            ("[rules] wait for the first evaluations", f"{time.perf_counter() - started:.0f} s")
        ]
        cpu_before = process_cpu_s(server.process.pid)
        idle_s = 30.0
        time.sleep(idle_s)  # nothing asks: what the rules alone cost the server
        rows.append(
            (
                "[rules] Prometheus CPU evaluating the rules, no console",
                f"{(process_cpu_s(server.process.pid) - cpu_before) / idle_s * 1000:.0f} ms/s",
            )
        )
        rows.append(("[rules] rule group last evaluation", rule_durations(server.url)))
        found, _, _ = asyncio.run(bench_refresh(server, runs, "rules"))
        rows += found
        for index, promql in enumerate(queries.RECORDED_FLEET, 1):
            seconds, size = curl(server.url, promql)
            rows.append(
                (
                    f"[rules] curl of recorded query {index} of {len(queries.RECORDED_FLEET)}",
                    f"{seconds * 1000:.0f} ms, {size / 1e6:.2f} MB gzipped",
                )
            )
    finally:
        server.stop()
    return rows


def rule_durations(url: str) -> str:
    """How long each aiconsole rule group took at its last evaluation (the server's own metric)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as answer:
        text = answer.read().decode()
    found = []
    for line in text.splitlines():
        if line.startswith("prometheus_rule_group_last_duration_seconds{") and "aiconsole" in line:
            group = line.split(";", 1)[1].split('"', 1)[0]
            found.append(f"{group} {float(line.rsplit(' ', 1)[1]) * 1000:.0f} ms")
    return ", ".join(found) or "(not reported)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scrape-hosts", type=int, default=1024)
    parser.add_argument("--scrape-only", action="store_true", help="only the serve figures")
    parser.add_argument(
        "--no-rules", action="store_true", help="skip the phase with recording rules loaded"
    )
    args = parser.parse_args()
    rows: list[tuple[str, str]] = [
        ("machine", f"{os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.1f}")
    ]
    rows += bench_scrape(args.scrape_hosts)
    if not args.scrape_only:
        rows += bench_fleet(args.hosts, args.runs, not args.no_rules)
    rows.append(("load average at the end", f"{os.getloadavg()[0]:.1f}"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
