"""Hostile-host benchmark: one misbehaving estate host among healthy ones.

Run (root, openssh-server installed):  .venv/bin/python bench/hostile.py [--healthy 64]

The estate has ``--healthy`` well-behaved hosts plus one hostile host whose probe interpreter
is replaced (a bind mount inside that host's own mount namespace) by a script that:

  none       behaves (the reference row: the real probe, like every other host);
  flood      writes one endless line without a newline, as fast as it can;
  arrays     sends a valid sample every second with 100,000 GPUs, all with new indices;
  slowloris  writes one byte every 50 ms and never ends the line;
  stderr     writes 4 MiB to stderr first, then behaves;
  oneshot    (one-shot ``snapshot``) floods 64 KiB lines as fast as it can.

Each mode runs in a fresh console process streaming from every host, with the TUI's GPU
history recorded once per interval. Per mode it prints the console's peak RSS, the worst
stall of the event loop (the largest lateness of a 10 ms ticker), and whether the healthy
hosts kept their schedule: of the wall-clock ticks measured, how many had a sample from every
healthy host, and the worst time from a tick to the last healthy host's sample of that tick.
The one-shot mode runs ``snapshot_once`` instead and prints its duration and the statuses.

Asserts nothing; prints a table. Every address is on the estate's own bridge.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aiconsole.config import Settings  # noqa: E402
from aiconsole.fleet import ssh_fleet  # noqa: E402
from aiconsole.history import History  # noqa: E402
from aiconsole.model import HostState  # noqa: E402
from tests.estate import Estate, available  # noqa: E402

INTERVAL = 1.0
MODES = ("none", "flood", "arrays", "slowloris", "stderr", "oneshot")

WRAPPER = '#!/bin/sh\nexec /usr/bin/python3 "$@"\n'
"""Every host's probe interpreter; the hostile host gets a script mounted over it."""

SAMPLE_HEAD = (
    '{{"seq":{seq},"collected_at":{now},"identity":{{"name":"bad","hostname":"bad",'
    '"probe_version":"0.1.0"}},"cpu":{{"count":1}},"memory":{{}},'
    '"gpu":{{"status":"ok","gpus":['
)

HOSTILE = {
    "none": None,
    "flood": (
        "import sys\nchunk = b'x' * 65536\nwhile True:\n    sys.stdout.buffer.write(chunk)\n"
    ),
    "arrays": (
        "import sys, time\nseq = 0\n"
        "while True:\n"
        "    base = seq * 100000\n"
        f"    head = {SAMPLE_HEAD!r}.format(seq=seq, now=time.time())\n"
        "    gpus = ','.join('{\"index\":%d}' % (base + i) for i in range(100000))\n"
        "    sys.stdout.write(head + gpus + ']}}\\n')\n    sys.stdout.flush()\n"
        "    seq += 1\n    time.sleep(1)\n"
    ),
    "slowloris": (
        "import sys, time\n"
        "while True:\n    sys.stdout.write('{')\n    sys.stdout.flush()\n    time.sleep(0.05)\n"
    ),
    "stderr": (
        "import os, sys\n"
        "sys.stderr.buffer.write(b'e' * (4 << 20))\nsys.stderr.flush()\n"
        "os.execv('/usr/bin/python3', ['/usr/bin/python3', *sys.argv[1:]])\n"
    ),
    "oneshot": (
        "import sys\nline = b'x' * 65535 + b'\\n'\nwhile True:\n    sys.stdout.buffer.write(line)\n"
    ),
}


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the console (a child process per mode) ------------------------------------------------


class Lag:
    """The worst lateness of a 10 ms ticker: how long the event loop was kept from it."""

    def __init__(self) -> None:
        self.worst = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - before - 0.01)


async def stream(
    settings: Settings, hosts: list[str], bad: str, seconds: float
) -> dict[str, object]:
    fleet = ssh_fleet(hosts, settings)
    healthy = [h for h in hosts if h != bad]
    arrivals: dict[float, dict[str, float]] = defaultdict(dict)
    put = fleet.store.put

    def recording_put(state: HostState) -> None:
        put(state)
        if state.status == "ok" and state.sample is not None and state.name != bad:
            tick = (state.sample.collected_at // INTERVAL) * INTERVAL
            arrivals[tick].setdefault(state.name, time.time())

    fleet.store.put = recording_put  # type: ignore[method-assign]
    tasks = [asyncio.create_task(c.run()) for c in fleet.collectors]
    history = History(interval_s=INTERVAL)
    try:
        deadline = time.monotonic() + 60
        while not all(h.status == "ok" for h in fleet.store.snapshot().hosts if h.name in healthy):
            if time.monotonic() > deadline:
                raise SystemExit("healthy hosts did not all come up within 60 s")
            await asyncio.sleep(0.05)
        lag = Lag()
        ticker = asyncio.create_task(lag.run())
        start = time.time()
        history_s = 0.0
        while time.time() < start + seconds:
            await asyncio.sleep(INTERVAL)
            before = time.perf_counter()
            history.record(fleet.store.snapshot())  # what the TUI does on each refresh
            history_s = max(history_s, time.perf_counter() - before)
        end = time.time()
        ticker.cancel()
        bad_state = fleet.store.get(bad)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    ticks = [t for t in arrivals if start + 1 < t <= end - 2]
    complete = [t for t in ticks if len(arrivals[t]) == len(healthy)]
    latencies = [(max(arrivals[t].values()) - t) * 1000 for t in complete]
    return {
        "rss_mib": peak_rss_mib(),
        "max_lag_ms": lag.worst * 1000,
        "ticks": len(ticks),
        "complete": len(complete),
        "latency_median_ms": statistics.median(latencies) if latencies else None,
        "latency_max_ms": max(latencies) if latencies else None,
        "history_max_ms": history_s * 1000,
        "bad": f"{bad_state.status}: {(bad_state.reason or '')[:70]}" if bad_state else "?",
    }


async def one_shot(settings: Settings, hosts: list[str], bad: str) -> dict[str, object]:
    fleet = ssh_fleet(hosts, settings)
    lag = Lag()
    ticker = asyncio.create_task(lag.run())
    start = time.perf_counter()
    snapshot = await fleet.snapshot_once(0.25)
    took = time.perf_counter() - start
    ticker.cancel()
    states = {h.name: h for h in snapshot.hosts}
    bad_state = states[bad]
    return {
        "rss_mib": peak_rss_mib(),
        "max_lag_ms": lag.worst * 1000,
        "seconds": took,
        "healthy_ok": sum(1 for h in hosts if h != bad and states[h].status == "ok"),
        "bad": f"{bad_state.status}: {(bad_state.reason or '')[:70]}",
    }


def child(args: argparse.Namespace) -> None:
    settings = Settings(
        interval=INTERVAL,
        connect_timeout=5,
        python=args.python,
        reconnect_max=2,
        ssh_config=args.ssh_config,
        max_handshakes=32,
    )
    hosts = args.host_names.split(",")
    if args.mode == "oneshot":
        result = asyncio.run(one_shot(settings, hosts, args.bad))
    else:
        result = asyncio.run(stream(settings, hosts, args.bad, args.seconds))
    print(json.dumps(result))


# -- the estate and the table (the parent) -------------------------------------------------


def in_host(estate: Estate, name: str) -> list[str]:
    sshd = estate.host(name).sshd
    assert sshd is not None
    return ["nsenter", "-t", str(sshd.pid), "-m"]


def run_mode(estate: Estate, directory: Path, mode: str, seconds: float) -> dict[str, object]:
    bad = estate.hosts[-1].name
    python = directory / "bin" / "python3"
    script = HOSTILE[mode]
    mounted = False
    if script is not None:
        path = directory / f"hostile-{mode}"
        path.write_text("#!/usr/bin/python3\n" + script)
        path.chmod(0o755)
        mount = ["mount", "--bind", str(path), str(python)]
        subprocess.run([*in_host(estate, bad), *mount], check=True)
        mounted = True
    try:
        argv = [
            sys.executable, __file__, "--child", mode, "--python", str(python),
            "--ssh-config", str(estate.ssh_config), "--bad", bad, "--seconds", str(seconds),
            "--host-names", ",".join(h.name for h in estate.hosts),
        ]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 180)
        if result.returncode != 0:
            tail = result.stderr.strip().splitlines()[-3:]
            return {"error": f"exit {result.returncode}: {tail}"}
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))
    finally:
        estate.kill_sessions(estate.host(bad))  # what the console left running there
        if mounted:
            subprocess.run([*in_host(estate, bad), "umount", "--lazy", str(python)], check=True)


def describe(mode: str, r: dict[str, object]) -> str:
    if "error" in r:
        return f"{mode:<10} {r['error']}"
    if mode == "oneshot":
        return (
            f"{mode:<10} peak RSS {r['rss_mib']:.0f} MiB, max loop lag {r['max_lag_ms']:.0f} ms, "
            f"took {r['seconds']:.1f} s, healthy ok {r['healthy_ok']}; hostile: {r['bad']}"
        )
    median = r["latency_median_ms"]
    worst = r["latency_max_ms"]
    timing = (
        "" if median is None else f", tick->all healthy median {median:.0f} / max {worst:.0f} ms"
    )
    return (
        f"{mode:<10} peak RSS {r['rss_mib']:.0f} MiB, max loop lag {r['max_lag_ms']:.0f} ms, "
        f"history {r['history_max_ms']:.0f} ms, complete ticks {r['complete']}/{r['ticks']}"
        f"{timing}; hostile: {r['bad']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--healthy", type=int, default=64, help="well-behaved hosts")
    parser.add_argument("--seconds", type=float, default=15, help="measured time per mode")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--python", help=argparse.SUPPRESS)
    parser.add_argument("--ssh-config", help=argparse.SUPPRESS)
    parser.add_argument("--bad", help=argparse.SUPPRESS)
    parser.add_argument("--host-names", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.mode = args.child
        child(args)
        return 0
    reason = available()
    if reason is not None:
        print(f"hostile bench: cannot build the estate here: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="aic-hostile-") as tmp:
        directory = Path(tmp)
        (directory / "bin").mkdir()
        wrapper = directory / "bin" / "python3"
        wrapper.write_text(WRAPPER)
        wrapper.chmod(0o755)
        with Estate(directory / "estate", args.healthy + 1) as estate:
            print(
                f"{args.healthy} healthy hosts + 1 hostile, interval {INTERVAL:g} s, "
                f"{args.seconds:g} s per mode"
            )
            for mode in args.modes.split(","):
                print(describe(mode, run_mode(estate, directory, mode, args.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
