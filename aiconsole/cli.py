"""Command line: ``aiconsole`` (TUI), ``aiconsole snapshot [--json]``, ``aiconsole schema``.

Only the TUI path imports Textual; ``snapshot`` and ``schema`` stay headless and fast.

Exit codes of ``snapshot``: 0 every host ok; 2 snapshot printed but some host is not ok;
1 no snapshot (an error, printed as one line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

import msgspec

from aiconsole import __version__, units
from aiconsole.fleet import local_fleet
from aiconsole.model import FleetSnapshot, json_schema
from aiconsole.summary import summarize

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DEGRADED = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiconsole",
        description="Live console for GPU hosts. With no command: open the TUI on this machine.",
    )
    parser.add_argument("--version", action="version", version=f"aiconsole {__version__}")
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between refreshes in the TUI (default 1)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    snapshot = commands.add_parser("snapshot", help="collect once, print, exit")
    snapshot.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    snapshot.add_argument(
        "--window",
        type=float,
        default=0.25,
        metavar="S",
        help="take two samples S seconds apart so rates (CPU %%, bytes/s) are filled in; "
        "0 takes one sample and reports rates as unavailable (default 0.25)",
    )
    commands.add_parser("schema", help="print the JSON Schema of `snapshot --json`")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "snapshot":
            return run_snapshot(as_json=args.json, window=args.window)
        if args.command == "schema":
            print(json.dumps(json_schema(), indent=2))
            return EXIT_OK
        return run_tui(interval=args.interval)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        print(f"aiconsole: error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_ERROR


def run_snapshot(*, as_json: bool, window: float) -> int:
    if window < 0:
        raise ValueError("--window must be >= 0")
    fleet = local_fleet()
    try:
        snapshot = asyncio.run(fleet.snapshot_once(window))
    finally:
        fleet.close()
    if as_json:
        sys.stdout.buffer.write(msgspec.json.encode(snapshot) + b"\n")
    else:
        print(format_text(snapshot))
    sys.stdout.flush()
    healthy = all(host.status == "ok" for host in snapshot.hosts)
    return EXIT_OK if healthy else EXIT_DEGRADED


def format_text(snapshot: FleetSnapshot) -> str:
    header = (
        f"{'HOST':<20} {'STATUS':<12} {'CPU':>5} {'MEM':>13} {'GPUS':>4} {'UTIL':>5} {'REASON'}"
    )
    lines = [header]
    for state in snapshot.hosts:
        s = summarize(state)
        memory = (
            f"{units.bytes_short(s.memory_used_bytes)}/{units.bytes_short(s.memory_total_bytes)}"
        )
        lines.append(
            f"{s.name:<20} {s.status:<12} {units.percent(s.cpu_percent):>5} {memory:>13} "
            f"{s.gpu_count:>4} {units.percent(s.gpu_util_mean):>5} {s.reason or ''}".rstrip()
        )
    return "\n".join(lines)


def run_tui(*, interval: float) -> int:
    if interval <= 0:
        raise ValueError("--interval must be positive")
    from aiconsole.app import ConsoleApp  # deferred: only the TUI needs Textual

    fleet = local_fleet(interval=interval)
    try:
        ConsoleApp(fleet, refresh_interval=interval).run()
    finally:
        fleet.close()
    return EXIT_OK
