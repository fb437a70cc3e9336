"""``aiconsole ack`` and ``aiconsole silence``: tell the console (and the audit log) that a
finding is being handled, or that a rule should stay quiet on a subject for a while."""

from __future__ import annotations

import argparse
import re
import sys
import time

from aiconsole.actions import mutes
from aiconsole.actions.audit import AuditFailed
from aiconsole.cli_actions import audit_log
from aiconsole.config import Inventory
from aiconsole.health.silences import Mute
from aiconsole.text import is_clean

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
INCIDENT = re.compile(r"[A-Za-z0-9._-]{1,64}-[0-9a-f]{8}")
RULE = re.compile(r"\*|[a-z][a-z0-9_]*\.[a-z0-9_]+")


def duration(text: str) -> float:
    """``90s``, ``30m``, ``2h``, ``1d`` (or plain seconds) -> seconds."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([smhd]?)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 2h or 1d")
    return float(match.group(1)) * UNITS.get(match.group(2) or "s", 1)


def add_health_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ack = commands.add_parser(
        "ack", help="acknowledge a finding by its incident id (no more alerts for it)"
    )
    ack.add_argument("incident", help="the incident id `health` shows, e.g. gpu07-3f9a2c1b")
    ack.add_argument("--note", required=True, help="who handles it and how")
    silence = commands.add_parser(
        "silence", help="silence a rule on a subject for a while (no alerts, not counted)"
    )
    silence.add_argument("rule", help="a rule id such as gpu.xid_critical, or '*'")
    silence.add_argument(
        "--subject", default="", help="a host, or a part such as gpu07/gpu/3 (default: all)"
    )
    silence.add_argument(
        "--for",
        dest="seconds",
        type=duration,
        required=True,
        metavar="DURATION",
        help="how long: 30m, 2h, 1d (at most 30 days)",
    )
    silence.add_argument("--note", required=True, help="why")


def _record(inventory: Inventory, mute: Mute) -> int:
    try:
        mutes.add(audit_log(inventory), mute)
    except (mutes.MuteError, AuditFailed) as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return 1
    return 0


def run_ack(args: argparse.Namespace, inventory: Inventory) -> int:
    if not INCIDENT.fullmatch(args.incident):
        print(f"aiconsole: error: {args.incident!r} is not an incident id", file=sys.stderr)
        return 1
    try:
        mute = mutes.acknowledgement(args.incident, args.note)
    except mutes.MuteError as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return 1
    code = _record(inventory, mute)
    if code == 0:
        print(f"acknowledged {args.incident}: {mute.note}")
    return code


def run_silence(args: argparse.Namespace, inventory: Inventory) -> int:
    if not RULE.fullmatch(args.rule):
        print(f"aiconsole: error: {args.rule!r} is not a rule id (e.g. gpu.xid)", file=sys.stderr)
        return 1
    if not is_clean(args.subject) or len(args.subject) > 200:
        print("aiconsole: error: --subject holds control characters", file=sys.stderr)
        return 1
    try:
        mute = mutes.silence(args.rule, args.subject, args.seconds, args.note)
    except mutes.MuteError as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return 1
    code = _record(inventory, mute)
    if code == 0 and mute.until is not None:
        until = time.strftime("%Y-%m-%d %H:%M", time.localtime(mute.until))
        print(f"silenced {args.rule} on {args.subject or 'everything'} until {until}")
    return code
