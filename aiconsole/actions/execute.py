"""Carry out a confirmed plan: audit intent, run, verify by re-reading, audit the outcome."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.plan import CommandMayHaveRun, Outcome, Plan, TargetResult
from aiconsole.actions.policy import ActionRefused, Policy


class Verifier(Protocol):
    async def check(self, plan: Plan) -> list[TargetResult]:
        """Re-read the world; per target, whether the planned state is there now."""
        ...


Progress = Callable[[str], None]


async def carry_out(
    plan: Plan,
    *,
    policy: Policy,
    audit: AuditLog,
    run: Callable[[list[str]], Awaitable[tuple[bool, str]]],
    verifier: Verifier,
    progress: Progress = lambda _line: None,
    verify_timeout: float = 60.0,
    poll_interval: float = 1.0,
) -> Outcome:
    """Everything after the confirmation. ``run`` returns (succeeded, error line)."""
    policy.check_can_act()
    if not plan.allowed:
        raise ActionRefused("; ".join(plan.refusals))
    if not plan.command:
        raise ActionRefused(f"{plan.action}: the plan has no command to carry out")
    action_id = audit.intent(plan)
    unanswered = None
    try:
        ok, error = await run(list(plan.command))
    except CommandMayHaveRun as no_answer:
        # It may have been applied (or be applied later): look, do not assume it failed.
        unanswered = str(no_answer)
        ok, error = True, ""
        progress(f"{plan.action}: {unanswered}; it may still take effect: watching")
    except Exception as failure:  # recorded, then re-raised: the outcome must be audited
        audit.outcome(action_id, Outcome(plan, (), error=str(failure)))
        raise
    if not ok:
        outcome = Outcome(
            plan, tuple(TargetResult(t, False, "unchanged", error) for t in plan.targets), error
        )
        audit.outcome(action_id, outcome)
        return outcome
    then_error = None
    if unanswered is None:
        then_error = await _follow_up(plan, run, audit, action_id, progress)
        progress(f"{plan.action}: command accepted; waiting until {plan.expect}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + verify_timeout
    results: list[TargetResult] = []
    while True:
        try:
            results = await verifier.check(plan)
        except Exception as failure:  # the scheduler stopped answering mid-verification
            results = [TargetResult(t, False, "unknown", str(failure)) for t in plan.targets]
        done = sum(result.ok for result in results)
        progress(
            f"{done}/{len(plan.targets)} verified: "
            + ", ".join(f"{r.target}={r.state}" for r in results)
        )
        if done == len(plan.targets) or loop.time() >= deadline:
            break
        await asyncio.sleep(poll_interval)
    missing = "unknown: the command got no answer" if unanswered else "not seen in time"
    final = tuple(
        r if r.ok else TargetResult(r.target, False, r.state, r.detail or missing) for r in results
    )
    outcome = Outcome(plan, final, error=then_error, unanswered=unanswered)
    audit.outcome(action_id, outcome)
    return outcome


async def _follow_up(
    plan: Plan,
    run: Callable[[list[str]], Awaitable[tuple[bool, str]]],
    audit: AuditLog,
    action_id: str,
    progress: Progress,
) -> str | None:
    """Run the plan's ``then`` commands; the first failure stops them and is returned (the
    main command has taken effect, so what it did is still verified and audited)."""
    for step in plan.then:
        try:
            ok, error = await run(list(step))
        except CommandMayHaveRun as no_answer:
            ok, error = False, f"no answer: {no_answer}"
        except Exception as failure:
            audit.outcome(action_id, Outcome(plan, (), error=str(failure)))
            raise
        if not ok:
            line = f"{shlex.join(step)}: {error}"
            progress(f"{plan.action}: follow-up failed: {line}")
            return line
    return None
