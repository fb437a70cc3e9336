"""``aiconsole record FILE [--duration D]`` and ``aiconsole replay FILE [--at TIME snapshot]``.

``record`` runs the collectors as the TUI does, headless, and writes one snapshot per refresh
until the duration is over or Ctrl+C / SIGTERM, then closes the file (index and trailer).
``replay FILE`` opens the TUI on the recording; ``replay FILE --at TIME snapshot [--json]``
prints the fleet as it was at TIME, like the live ``snapshot`` does (same exit codes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import re
import signal
import sys

import msgspec

from aiconsole.actions.audit import AuditLog
from aiconsole.cli_options import usage_error
from aiconsole.fleet import Fleet
from aiconsole.fleet_run import start_collecting, stop_collecting
from aiconsole.model import FleetSnapshot
from aiconsole.recording import Recording, RecordingError, RecordingWriter
from aiconsole.themes import UnknownTheme, tui_theme

RECORD_COMMANDS = ("record", "replay")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


class BadTime(ValueError):
    """A --duration or --at that cannot be read; printed as one line."""


def parse_duration(text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise BadTime(f"--duration {text!r}: give seconds, or a number with s, m or h")
    value = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]
    if value <= 0:
        raise BadTime("--duration must be positive")
    return value


def parse_moment(text: str, start: float) -> float:
    """``--at``: seconds from ``start`` (a plain number), else an ISO 8601 time."""
    try:
        return start + float(text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadTime(f"--at {text!r}: give seconds from the start or an ISO 8601 time") from None
    return moment.timestamp()  # a time without a zone is local time, as the TUI shows it


def live_snapshot(fleet: Fleet) -> FleetSnapshot:
    """The fleet now, as the TUI would show it (with whatever the fleet adds to the store's)."""
    snapshot = getattr(fleet, "live_snapshot", None)
    return snapshot() if callable(snapshot) else fleet.store.snapshot()


# -- record -----------------------------------------------------------------------------------


def run_record(args: argparse.Namespace, fleet: Fleet, audit: AuditLog) -> int:
    try:
        duration = parse_duration(args.duration) if args.duration else None
    except BadTime as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return 1
    interval = fleet.collectors[0].interval if fleet.collectors else 1.0
    try:
        writer = RecordingWriter(
            args.file, interval=interval, audit_path=audit.path, groups=fleet.group_of
        )
    except OSError as error:
        print(f"aiconsole: error: cannot write {args.file}: {error.strerror}", file=sys.stderr)
        return 1
    try:
        asyncio.run(_record(fleet, writer, interval, duration))
    finally:
        size = writer.close()
    print(
        f"recorded {writer.frames} snapshots and {len(writer.events)} events to "
        f"{args.file} ({size / 1024:.0f} KiB)"
    )
    return 0


async def _record(
    fleet: Fleet, writer: RecordingWriter, interval: float, duration: float | None
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)  # end the file cleanly, not with a traceback
    workers = start_collecting(fleet)
    started = loop.time()
    next_tick = started + interval  # the first tick after the collectors' first samples
    try:
        while not stop.is_set():
            # asyncio.TimeoutError: the builtin TimeoutError is this only from 3.11 on.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_tick - loop.time()))
            if stop.is_set():
                break
            writer.add(live_snapshot(fleet))
            next_tick += interval
            if next_tick < loop.time():
                next_tick = loop.time()  # fell behind: skip ticks rather than burst
            if duration is not None and loop.time() - started >= duration:
                break
    finally:
        await stop_collecting(fleet, workers)


# -- replay -----------------------------------------------------------------------------------


def run_replay(args: argparse.Namespace) -> int:
    try:
        with Recording(args.file) as recording:
            if args.replay_command == "snapshot":
                if args.at is None:
                    raise BadTime("replay ... snapshot needs --at TIME")
                frame = recording.frame_at(parse_moment(args.at, recording.times[0]))
                return print_snapshot(recording.snapshot(frame), as_json=args.json)
            frame = 0
            if args.at is not None:
                frame = recording.frame_at(parse_moment(args.at, recording.times[0]))
            from aiconsole.replay_app import ReplayApp  # deferred: only the TUI needs Textual

            app = ReplayApp(recording, frame=frame)
            app.use_theme(*tui_theme(getattr(args, "theme", None), None))
            app.run()
            return 0
    except UnknownTheme as error:
        return usage_error(f"--theme: {error}")
    except (RecordingError, BadTime) as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return 1


def print_snapshot(snapshot: FleetSnapshot, *, as_json: bool) -> int:
    from aiconsole.cli import EXIT_DEGRADED, EXIT_OK
    from aiconsole.cli_text import format_text

    if as_json:
        sys.stdout.buffer.write(msgspec.json.encode(snapshot) + b"\n")
    else:
        print(format_text(snapshot))
    sys.stdout.flush()
    healthy = all(host.status == "ok" for host in snapshot.hosts) and all(
        cluster.status == "ok" for cluster in snapshot.clusters
    )
    return EXIT_OK if healthy else EXIT_DEGRADED
