"""What an action will do, said before it is done."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Impact:
    """One target and what acting on it will hit (running jobs, GPUs in use, ...)."""

    target: str
    current: str
    """Its state now, as the operator knows it (``mixed``, ``RUNNING``)."""
    hits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    action: str
    """``drain``, ``resume``, ``requeue``, ``requeue-hold``, ``release``."""
    scope: str
    """Where: the cluster's name."""
    targets: tuple[str, ...]
    impacts: tuple[Impact, ...]
    command: tuple[str, ...]
    """The exact argument list that will run (shown, audited)."""
    reason: str | None = None
    warnings: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()
    """Problems that stop the action (unknown target, blast radius): nothing runs."""
    expect: str = ""
    """What verification waits for, in words."""
    before: dict[str, str] = field(default_factory=dict)
    """Per target, what verification compares against (e.g. a job's restart count)."""
    caution: str | None = None
    """Why this plan may rest on old knowledge (the cluster is ``stale``, and since when):
    shown first, and a front end asks a second time before acting on it."""
    incident: str | None = None
    """The incident (a finding's id) this action belongs to; audited with it."""
    then: tuple[tuple[str, ...], ...] = ()
    """Commands run in order once ``command`` succeeded (a rebalance keeps each requeued job
    off the node it left: Slurm takes an exclusion only from a pending job)."""
    details: tuple[str, ...] = ()
    """Lines shown with the plan after the targets (a rebalance's before/after table)."""

    @property
    def allowed(self) -> bool:
        return not self.refusals

    def describe(self) -> str:
        lines = [f"{self.action} on {self.scope}: {len(self.targets)} target(s)"]
        if self.caution:
            lines.append(f"  CAUTION: {self.caution}")
        if self.reason:
            lines.append(f"  reason: {self.reason}")
        if self.incident:
            lines.append(f"  incident: {self.incident}")
        for impact in self.impacts:
            lines.append(f"  {impact.target} ({impact.current})")
            lines.extend(f"    - {hit}" for hit in impact.hits)
        lines.extend(f"  {detail}" for detail in self.details)
        lines.extend(f"  warning: {warning}" for warning in self.warnings)
        lines.extend(f"  REFUSED: {refusal}" for refusal in self.refusals)
        # Quoted word by word, so it can be pasted into a shell as it is.
        if self.command:
            lines.append(f"  command: {shlex.join(self.command)}")
        else:
            lines.append("  command: none (nothing to carry out: this plan only tells)")
        lines.extend(f"  then: {shlex.join(step)}" for step in self.then)
        if self.expect:
            lines.append(f"  then waits until {self.expect}")
        return "\n".join(lines)

    def as_record(self) -> dict[str, object]:
        return {
            "action": self.action,
            "scope": self.scope,
            "targets": list(self.targets),
            "reason": self.reason,
            "impacts": [
                {"target": i.target, "current": i.current, "hits": list(i.hits)}
                for i in self.impacts
            ],
            "warnings": list(self.warnings),
            "refusals": list(self.refusals),
            "command": list(self.command),
            "then": [list(step) for step in self.then],
            "details": list(self.details),
            "caution": self.caution,
        }


@dataclass(frozen=True)
class TargetResult:
    target: str
    ok: bool
    state: str
    """The state last seen."""
    detail: str = ""


class CommandMayHaveRun(Exception):
    """The command went out but no answer came back (timed out, link lost): it may still
    take effect. Not a failure: its outcome is unknown until verification sees it."""


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    results: tuple[TargetResult, ...]
    error: str | None = None
    """The command itself failed (nothing to verify)."""
    unanswered: str | None = None
    """The command got no answer (:class:`CommandMayHaveRun`); set even if later verified."""

    @property
    def ok(self) -> bool:
        return self.error is None and all(result.ok for result in self.results)

    @property
    def status(self) -> str:
        """``verified``; ``failed`` (refused by the scheduler); ``unknown`` (no answer and
        the change not seen: it may still happen); ``unverified`` (accepted, not seen)."""
        if self.error is not None:
            return "failed"
        if self.ok:
            return "verified"
        return "unknown" if self.unanswered else "unverified"
