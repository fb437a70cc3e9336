"""Fan-out benchmark: the console against 64 and 256 real sshd hosts on the test estate.

Run (root, openssh-server installed):  .venv/bin/python bench/fanout.py [--hosts 64,256]
                                        [--cold-only]
Baselines need ClusterShell:            .venv/bin/pip install -e '.[bench]'

For each fleet size it prints, from one run:
  - cold ``aiconsole snapshot --json`` (connect to every host, two samples, print, exit), the
    console's CPU per host in it, per host options resolution and per host connect, the
    hosts' own CPU in it and the floor that sets on this machine (hosts and console share
    its cores), and ``clush`` running the same probe on the same hosts (bench/fanout_cold.py);
  - warm refresh: time from the interval tick until every host's sample of that tick has
    been received and decoded by the console (probes sample on wall-clock ticks);
  - the console's CPU per refresh cycle and its RSS, without and with the TUI open;
  - the probe's CPU per sample on a host (its own process time, reported in each sample);
  - baselines in the same run: ``clush -f 64`` cold and over ControlMaster connections, and
    an ``ssh`` loop over ControlMaster connections, all reading the same /proc files.

Targets (issue: the fleet over SSH), 256 hosts: cold snapshot <= 4 s; warm refresh <= 150 ms
after the tick and >= 10x faster than clush over ControlMaster; console <= 10% of one core
at 1 Hz with the TUI open; probe <= 2 ms CPU per sample on a host without GPUs.

Asserts nothing; prints a table. Every address is on the estate's own bridge.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aiconsole.config import Settings  # noqa: E402
from aiconsole.fleet import Fleet, ssh_fleet  # noqa: E402
from aiconsole.model import HostState  # noqa: E402
from aiconsole.store import FleetStore  # noqa: E402
from bench.fanout_cold import cold_rows  # noqa: E402
from bench.fanout_common import PYTHON, Row, children_cpu, fmt_runs, timed_command  # noqa: E402
from tests.estate import Estate, available  # noqa: E402

INTERVAL = 1.0
PROC_FILES = [
    "/proc/stat",
    "/proc/loadavg",
    "/proc/meminfo",
    "/proc/mounts",
    "/proc/diskstats",
    "/proc/net/dev",
    "/proc/uptime",
]


# -- measuring helpers -------------------------------------------------------------------------


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class ArrivalLog:
    """Records when each sample reached the store, keyed by the wall-clock tick it belongs to."""

    def __init__(self, store: FleetStore, interval: float) -> None:
        self.interval = interval
        self.by_tick: dict[float, list[float]] = defaultdict(list)
        self.probe_cpu: dict[str, list[tuple[int, float]]] = defaultdict(list)
        put = store.put

        def recording_put(state: HostState) -> None:
            put(state)
            sample = state.sample
            if state.status == "ok" and sample is not None:
                tick = (sample.collected_at // interval) * interval
                self.by_tick[tick].append(time.time())
                if sample.probe_cpu_s is not None:
                    self.probe_cpu[state.name].append((sample.seq, sample.probe_cpu_s))

        store.put = recording_put  # type: ignore[method-assign]

    def refresh_text(self, hosts: int, after: float, before: float) -> str:
        """Per tick in (after, before]: milliseconds from the tick to the last host's sample."""
        ticks = {t: a for t, a in self.by_tick.items() if after < t <= before}
        latencies = [(max(a) - t) * 1000 for t, a in ticks.items() if len(a) == hosts]
        missed = len(ticks) - len(latencies)
        if not latencies:
            return f"no complete tick ({missed} incomplete)"
        return (
            f"median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms "
            f"(n={len(latencies)} ticks, {missed} incomplete)"
        )

    def probe_ms_per_sample(self) -> list[float]:
        """Each host's probe CPU per sample, from the first to the last sample seen."""
        per_host = []
        for readings in self.probe_cpu.values():
            (seq0, cpu0), (seq1, cpu1) = readings[0], readings[-1]
            if seq1 > seq0:
                per_host.append((cpu1 - cpu0) / (seq1 - seq0) * 1000)
        return per_host


async def wait_all_ok(fleet: Fleet, hosts: int, limit: float = 60) -> float:
    start = time.perf_counter()
    while True:
        snapshot = fleet.store.snapshot()
        if sum(1 for h in snapshot.hosts if h.status == "ok") == hosts:
            return time.perf_counter() - start
        if time.perf_counter() - start > limit:
            bad = [f"{h.name}: {h.status} {h.reason}" for h in snapshot.hosts if h.status != "ok"]
            raise SystemExit(f"not every host came up within {limit} s: {bad[:3]}")
        await asyncio.sleep(0.05)


async def measure_cycles(cycles: int) -> tuple[float, float, float]:
    """Let ``cycles`` ticks pass; their span, and the console's CPU seconds per cycle."""
    start_tick = await sleep_to_tick(INTERVAL)
    cpu_before = time.process_time()
    for _ in range(cycles):
        await sleep_to_tick(INTERVAL)
    cpu_per_cycle = (time.process_time() - cpu_before) / cycles
    return start_tick, start_tick + cycles * INTERVAL, cpu_per_cycle


async def sleep_to_tick(interval: float, offset: float = 0.5) -> float:
    """Sleep to ``offset`` seconds past the next tick (between two fleet samples)."""
    now = time.time()
    target = (now // interval + 1) * interval + offset
    await asyncio.sleep(target - now)
    return target - offset


# -- the console -------------------------------------------------------------------------------


def settings_for(estate: Estate) -> Settings:
    return Settings(
        interval=INTERVAL,
        connect_timeout=10,
        python=PYTHON,
        reconnect_max=2,
        ssh_config=str(estate.ssh_config),
    )


def config_file(estate: Estate, directory: Path) -> Path:
    path = directory / "config.toml"
    path.write_text(
        f'[settings]\npython = "{PYTHON}"\nssh_config = "{estate.ssh_config}"\n'
        "connect_timeout = 10\n"
    )
    return path


async def streaming(estate: Estate, cycles: int) -> list[Row]:
    hosts = len(estate.hosts)
    fleet = ssh_fleet([h.name for h in estate.hosts], settings_for(estate))
    log = ArrivalLog(fleet.store, INTERVAL)
    tasks = [asyncio.create_task(c.run()) for c in fleet.collectors]
    try:
        connect_s = await wait_all_ok(fleet, hosts)
        start_tick, end_tick, cpu_per_cycle = await measure_cycles(cycles)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        fleet.close()
    probe_ms = log.probe_ms_per_sample()
    return [
        (f"streaming: all {hosts} connected and first sample in", f"{connect_s:.2f} s"),
        (
            f"warm refresh, tick -> all {hosts} samples decoded",
            log.refresh_text(hosts, start_tick, end_tick),
        ),
        (
            "console CPU per 1 s cycle (collectors only)",
            f"{cpu_per_cycle * 1000:.0f} ms = {cpu_per_cycle / INTERVAL * 100:.1f}% of a core, "
            f"RSS {rss_mib():.0f} MiB",
        ),
        (
            "probe CPU per sample on a host (no GPU)",
            f"median {statistics.median(probe_ms):.2f} ms, max {max(probe_ms):.2f} ms "
            f"({len(probe_ms)} hosts)",
        ),
    ]


async def with_tui(estate: Estate, seconds: int) -> list[Row]:
    from aiconsole.app import ConsoleApp

    hosts = len(estate.hosts)
    fleet = ssh_fleet([h.name for h in estate.hosts], settings_for(estate))
    log = ArrivalLog(fleet.store, INTERVAL)
    app = ConsoleApp(fleet, refresh_interval=INTERVAL)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_all_ok(fleet, hosts)
        start_tick, end_tick, cpu = await measure_cycles(seconds)
        await pilot.press("q")
    fleet.close()
    return [
        (
            "console CPU per 1 s cycle with the TUI open",
            f"{cpu * 1000:.0f} ms = {cpu / INTERVAL * 100:.1f}% of a core, RSS {rss_mib():.0f} MiB",
        ),
        ("warm refresh with the TUI open", log.refresh_text(hosts, start_tick, end_tick)),
    ]


# -- baselines ---------------------------------------------------------------------------------


def find_clush() -> str | None:
    """clush from this environment's scripts directory, else from PATH."""
    beside = Path(sys.executable).parent / "clush"
    return str(beside) if beside.exists() else shutil.which("clush")


CLUSH = find_clush()


@contextmanager
def control_master_config(estate: Estate, directory: Path) -> Iterator[Path]:
    """The estate's ssh_config plus shared connections; masters are stopped afterwards."""
    sockets = Path(tempfile.mkdtemp(prefix="aicb-cm-"))  # short path: unix socket name limit
    config = directory / "ssh_config_cm"
    config.write_text(
        f"Host *\n  ControlMaster auto\n  ControlPath {sockets}/%C\n  ControlPersist 120\n"
        + estate.ssh_config.read_text()
    )
    try:
        yield config
    finally:
        for host in estate.hosts:
            subprocess.run(
                ["ssh", "-F", str(config), "-O", "exit", host.name], capture_output=True, timeout=10
            )
        shutil.rmtree(sockets, ignore_errors=True)


def clush(estate: Estate, ssh_config: Path, fanout: int) -> list[str]:
    nodeset = f"h[1-{len(estate.hosts)}]"
    return [
        str(CLUSH), "-f", str(fanout), "-w", nodeset, "-o", f"-F {ssh_config}", "-S",
        "cat", *PROC_FILES,
    ]  # fmt: skip


def succeeded(result: subprocess.CompletedProcess[bytes]) -> bool:
    return result.returncode == 0


async def ssh_loop(estate: Estate, ssh_config: Path, parallel: int) -> tuple[float, float]:
    """Every host once, ``parallel`` ssh clients at a time (1: a plain shell loop)."""
    limit = asyncio.Semaphore(parallel)

    async def one(name: str) -> None:
        async with limit:
            process = await asyncio.create_subprocess_exec(
                "ssh", "-F", str(ssh_config), name, "cat", *PROC_FILES,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, stderr = await process.communicate()
            if process.returncode != 0:
                raise SystemExit(f"ssh {name} failed: {stderr.decode(errors='replace').strip()}")

    cpu_before = children_cpu()
    start = time.perf_counter()
    await asyncio.gather(*(one(h.name) for h in estate.hosts))
    return time.perf_counter() - start, children_cpu() - cpu_before


def baselines(estate: Estate, directory: Path, runs: int) -> list[Row]:
    hosts = len(estate.hosts)
    if CLUSH is None:
        rows = [("clush baselines", "skipped: clush not found (pip install -e '.[bench]')")]
    else:
        rows = [
            (
                f"baseline: clush -f 64, cold, {hosts} hosts",
                fmt_runs([timed_command(clush(estate, estate.ssh_config, 64), succeeded)]),
            )
        ]
    with control_master_config(estate, directory) as cm:
        # Open the shared connections first; the runs below reuse them.
        asyncio.run(ssh_loop(estate, cm, parallel=64))
        if CLUSH is not None:
            rows.append(
                (
                    "baseline: clush -f 64 over ControlMaster",
                    fmt_runs(
                        [timed_command(clush(estate, cm, 64), succeeded) for _ in range(runs)]
                    ),
                )
            )
        rows.append(
            (
                "baseline: ssh loop over ControlMaster, one at a time",
                fmt_runs([asyncio.run(ssh_loop(estate, cm, parallel=1))]),
            )
        )
        rows.append(
            (
                "baseline: ssh over ControlMaster, 64 at a time",
                fmt_runs([asyncio.run(ssh_loop(estate, cm, parallel=64)) for _ in range(runs)]),
            )
        )
    return rows


# -- main --------------------------------------------------------------------------------------


def bench(hosts: int, cycles: int, runs: int, cold_only: bool = False) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="aic-fanout-") as tmp:
        directory = Path(tmp)
        start = time.perf_counter()
        with Estate(directory / "estate", hosts) as estate:
            rows: list[Row] = [
                (f"estate of {hosts} sshd hosts up", f"{time.perf_counter() - start:.1f} s")
            ]
            config = config_file(estate, directory)
            rows += cold_rows(estate, settings_for(estate), config, runs, CLUSH)
            if cold_only:
                return rows
            rows += asyncio.run(streaming(estate, cycles))
            rows += asyncio.run(with_tui(estate, cycles))
            rows += baselines(estate, directory, runs)
        return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", default="64,256", help="fleet sizes, comma-separated")
    parser.add_argument("--cycles", type=int, default=10, help="refresh cycles to measure")
    parser.add_argument("--runs", type=int, default=3, help="repeats of each one-shot command")
    parser.add_argument(
        "--cold-only", action="store_true", help="only the cold start rows (and their baseline)"
    )
    args = parser.parse_args()
    reason = available()
    if reason is not None:
        print(f"fanout bench: cannot build the estate here: {reason}", file=sys.stderr)
        return 1
    print(
        f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, interval {INTERVAL:g} s"
    )
    for size in (int(s) for s in args.hosts.split(",")):
        rows = bench(size, args.cycles, args.runs, args.cold_only)
        width = max(len(name) for name, _ in rows)
        print(f"\n{size} hosts")
        print(f"{'benchmark':<{width}}  result")
        for name, value in rows:
            print(f"{name:<{width}}  {value}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
