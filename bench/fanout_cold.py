"""Cold start over SSH, for bench/fanout.py: the whole fleet from nothing.

- cold ``aiconsole snapshot --json`` (a fresh process: connect to every host, two samples
  ``--window`` apart, print, exit): wall time and the console's CPU, and that CPU per host;
- the console's CPU per host connect alone (TCP, key exchange, host key, authentication;
  every host at once, in one process, as the fleet does it);
- the console's CPU to resolve every host's ssh options (config, keys) once;
- the hosts' own CPU for one cold snapshot (every sshd and what it ran: key exchange,
  authentication, the session, the probe), and the floor it sets on this machine, where the
  hosts and the console share the same cores; the same for sessions that only start a bare
  interpreter (what sshd and Python cost before any probe);
- baseline in the same run: ``clush`` running the same probe, sent the same way (its payload
  on stdin), on the same hosts, one sample each.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiconsole.config import Settings
from aiconsole.fleet import ssh_fleet
from bench.fanout_common import PYTHON, Row, fmt_runs, timed_command
from tests.estate import Estate, Host

WINDOW = 0.25
"""``snapshot --json``'s default window."""


def sshd_pid(host: Host) -> str:
    return (host.directory / "sshd.pid").read_text().strip()


def connectors(settings: Settings, names: list[str]) -> list[Any]:
    """Each host's connector, as the fleet builds them (options, keys, known hosts)."""
    fleet = ssh_fleet(names, settings)
    return [c._connector for c in fleet.collectors]  # type: ignore[attr-defined]


def listener_cpu(estate: Estate) -> float:
    """CPU seconds of every host's sshd listener and of all it has reaped: each connection's
    sshd (re-executed, privilege-separated), the login's command and the probe. A session's
    CPU is counted once its processes have ended and been waited for."""
    total = 0.0
    for host in estate.hosts:
        pid = sshd_pid(host)
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def sessions_ended(estate: Estate, limit: float = 30.0) -> None:
    """Wait until no host's sshd has a child left (every session of the run reaped)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        busy = False
        for host in estate.hosts:
            pid = sshd_pid(host)
            if Path(f"/proc/{pid}/task/{pid}/children").read_text().strip():
                busy = True
                break
        if not busy:
            return
        time.sleep(0.05)
    raise SystemExit("the hosts' sessions did not end")


def cold_snapshot(
    estate: Estate, config: Path, runs: int
) -> tuple[list[tuple[float, float]], list[float]]:
    """Wall and console CPU seconds of each cold snapshot, and the hosts' CPU seconds in it."""
    nodeset = f"h[1-{len(estate.hosts)}]"
    argv = [sys.executable, "-m", "aiconsole", "--config", str(config), "--hosts", nodeset]
    argv += ["snapshot", "--json", "--window", f"{WINDOW:g}"]

    def all_ok(result: subprocess.CompletedProcess[bytes]) -> bool:
        return result.returncode == 0 and result.stdout.count(b'"status":"ok"') == len(estate.hosts)

    runs_done: list[tuple[float, float]] = []
    hosts_cpu: list[float] = []
    for _ in range(runs):
        sessions_ended(estate)
        before = listener_cpu(estate)
        runs_done.append(timed_command(argv, all_ok))
        sessions_ended(estate)
        hosts_cpu.append(listener_cpu(estate) - before)
    return runs_done, hosts_cpu


async def connect_cpu(settings: Settings, names: list[str]) -> tuple[float, float]:
    """Console CPU seconds per host to resolve its options, and to connect (all at once)."""
    every = connectors(settings, names)
    started = time.process_time()
    for connector in every:
        await connector._host_options(connector.name).resolve()
    resolve = (time.process_time() - started) / len(names)
    started = time.process_time()
    connections = await asyncio.gather(*(c.connect() for c in every))
    connect = (time.process_time() - started) / len(names)
    for connection in connections:
        connection.close()
    await asyncio.gather(*(c.wait_closed() for c in connections))
    return resolve, connect


async def bare_sessions(settings: Settings, names: list[str]) -> None:
    """Every host at once: connect as the fleet does and start a bare interpreter that exits
    (``python3 -I -S -c pass``), the least a probe could cost there."""

    async def one(connector: Any) -> None:
        connection = await connector.connect()
        try:
            await connection.run(shlex.join([PYTHON, "-I", "-S", "-c", "pass"]), check=True)
        finally:
            connection.close()
            await connection.wait_closed()

    await asyncio.gather(*(one(c) for c in connectors(settings, names)))


def bare_session_cpu(estate: Estate, settings: Settings) -> float:
    """The hosts' CPU seconds for :func:`bare_sessions` (sshd's part and the interpreter's)."""
    sessions_ended(estate)
    before = listener_cpu(estate)
    asyncio.run(bare_sessions(settings, [h.name for h in estate.hosts]))
    sessions_ended(estate)
    return listener_cpu(estate) - before


def clush_probe(clush: str, estate: Estate, fanout: int) -> tuple[float, float] | None:
    """clush running the probe on every host: the same payload on stdin, one sample each."""
    try:
        from aiconsole import wire
        from aiconsole.collectors.ssh import PROBE_SOURCE

        unpack = wire.UNPACK
    except (ImportError, AttributeError):
        return None  # a tree from before the payload had this form
    program = "import sys\npayload = sys.stdin.buffer.read()\n" + unpack
    program += "exec(compile(program, 'aiconsole-probe', 'exec'))\n"
    remote = [PYTHON, "-I", "-c", program, "--count", "2", "--interval", f"{WINDOW:g}"]
    remote += ["--name", "clush"]
    argv = [clush, "-f", str(fanout), "-w", f"h[1-{len(estate.hosts)}]"]
    argv += ["-o", f"-F {estate.ssh_config}", "-S", shlex.join(remote)]

    def every_host_sampled(result: subprocess.CompletedProcess[bytes]) -> bool:
        return result.returncode == 0 and result.stdout.count(b'"probe_version"') >= 2 * len(
            estate.hosts
        )

    return timed_command(argv, every_host_sampled, stdin=PROBE_SOURCE)


def cold_rows(
    estate: Estate, settings: Settings, config: Path, runs: int, clush: str | None
) -> list[Row]:
    hosts = len(estate.hosts)
    snapshots, hosts_cpu = cold_snapshot(estate, config, runs)
    console_cpu = statistics.median(cpu for _, cpu in snapshots)
    host_cpu = statistics.median(hosts_cpu)
    cores = os.cpu_count() or 1
    resolve, connect = asyncio.run(connect_cpu(settings, [h.name for h in estate.hosts]))
    bare = bare_session_cpu(estate, settings)
    rows = [
        (f"cold snapshot --json, {hosts} hosts", fmt_runs(snapshots)),
        (
            "  console CPU per host (cold snapshot, median run)",
            f"{console_cpu / hosts * 1000:.1f} ms",
        ),
        (
            "  hosts' CPU in it (sshds, sessions, probes)",
            f"{host_cpu:.1f} s = {host_cpu / hosts * 1000:.1f} ms per host (median run)",
        ),
        (
            f"  floor here: (console + hosts' CPU) / {cores} cores",
            f"{(console_cpu + host_cpu) / cores:.2f} s; console alone {console_cpu:.2f} s CPU",
        ),
        (
            "  hosts' CPU, connect + bare python3 -I -S (no probe)",
            f"{bare / hosts * 1000:.1f} ms per host; floor with a free probe "
            f"{(console_cpu + bare) / cores:.2f} s",
        ),
        ("  console CPU per host: ssh options resolved", f"{resolve * 1000:.2f} ms"),
        ("  console CPU per host: connect (TCP+kex+auth)", f"{connect * 1000:.1f} ms"),
    ]
    if clush is None:
        rows.append(("baseline: clush, same probe", "skipped: clush not found"))
    else:
        result = clush_probe(clush, estate, 64)
        rows.append(
            (
                f"baseline: clush -f 64, same probe, {hosts} hosts",
                fmt_runs([result]) if result else "skipped: this tree's payload differs",
            )
        )
    return rows
