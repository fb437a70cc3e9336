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

INCIDENT = re.compile(r"[A-Za-z0-9._-]{1,64}-[0-9a-f]{8}")
RULE = re.compile(r"\*|[a-z][a-z0-9_]*\.[a-z0-9_]+")


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
