"""The CLI's half of every action, whatever it acts on: show the plan, stop on a refusal or
a dry run, ask, carry it out, print each target's result, exit with the action codes.

Slurm and Kubernetes actions differ only in how the plan is made and carried out; both come
through here, so a plan is shown, confirmed and reported the same way everywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Awaitable, Callable

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.plan import Outcome, Plan
from aiconsole.text import clean

EXIT_REFUSED = 3
EXIT_UNVERIFIED = 4

Progress = Callable[[str], None]
Execute = Callable[[Plan, Progress], Awaitable[Outcome]]


def shown(text: str) -> str:
    """Text quoting a cluster (job and pod names, reasons, error lines) made safe to print."""
    return "\n".join(clean(line, 2000) for line in text.splitlines())


def confirm(plan: Plan, assume_yes: bool, ask: Callable[[str], str]) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        print("not confirmed: stdin is not a terminal; pass --yes to act", file=sys.stderr)
        return False
    answer = ask(f"{plan.action} {len(plan.targets)} target(s) on {plan.scope}? type yes: ")
    return answer.strip().lower() == "yes"


async def confirm_and_carry_out(
    plan: Plan, args: argparse.Namespace, execute: Execute, audit: AuditLog, who: str
) -> int:
    """``who``: the scheduler that may still apply an unanswered command (for the warning)."""
    if getattr(args, "incident", None):
        plan = dataclasses.replace(plan, incident=args.incident)
    print(shown(plan.describe()), flush=True)
    if not plan.allowed:
        print("aiconsole: refused: nothing was done", file=sys.stderr)
        return EXIT_REFUSED
    if args.dry_run:
        print("dry run: nothing was done")
        return 0
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, confirm, plan, args.yes, input):
        print("aiconsole: not confirmed: nothing was done", file=sys.stderr)
        return EXIT_REFUSED
    outcome = await execute(plan, lambda line: print(f"  {shown(line)}", flush=True))
    if audit.syslog_error:
        print(f"aiconsole: warning: audit copy not sent: {audit.syslog_error}", file=sys.stderr)
    if outcome.error:
        print(f"aiconsole: {plan.action} failed: {shown(outcome.error)}", file=sys.stderr)
        return 1
    for result in outcome.results:
        mark = "ok" if result.ok else "NOT VERIFIED"
        detail = f": {result.detail}" if result.detail else ""
        print(shown(f"{result.target}: {result.state} ({mark}{detail})"))
    if outcome.status == "unknown":
        print(
            f"aiconsole: {plan.action}: outcome UNKNOWN: {outcome.unanswered}; {who} may still "
            "apply it: check before acting again (audited as unknown)",
            file=sys.stderr,
        )
    return 0 if outcome.ok else EXIT_UNVERIFIED
