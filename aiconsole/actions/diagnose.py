"""Diagnose a host: run the configured diagnosis there, keep its words, judge the result.

Through the one action path (plan -> confirm -> run -> verify -> audit): a diagnosis such as
``dcgmi diag -r 2`` loads every GPU for minutes, so it is an action an operator confirms, not
a read. "Verified" means the diagnosis passed; a failing or unreadable one is recorded as not
verified, with the failing tests, and the full output is kept for the operator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aiconsole.actions.plan import Impact, Plan, TargetResult
from aiconsole.health.dcgm import Diagnosis, parse_diag
from aiconsole.slurm.runner import CommandFailed, Runner
from aiconsole.text import clean

DEFAULT_COMMAND = ("dcgmi", "diag", "-r", "1", "-j")
MAX_OUTPUT = 256 * 1024
"""Characters of the diagnosis's output kept (dcgmi's JSON for 8 GPUs is a few KiB)."""


def plan_diagnose(
    host: str, command: Sequence[str], *, busy: Sequence[str] = (), reason: str | None = None
) -> Plan:
    """``busy``: what runs on the host's GPUs now (the diagnosis will compete with it)."""
    hits = tuple(busy) or ("no running job known on this host",)
    warnings = ("the diagnosis loads the GPUs: running work slows down",) if busy else ()
    return Plan(
        action="diagnose",
        scope=host,
        targets=(host,),
        impacts=(Impact(host, "in service" if busy else "idle or unknown", hits),),
        command=tuple(command),
        reason=reason,
        warnings=warnings,
        expect="the diagnosis reports its verdict",
    )


@dataclass
class DiagnosisRun:
    """Runs the plan's command on the host and keeps what it said, for the verifier."""

    runner: Runner
    timeout: float
    status: int | None = None
    output: str = ""
    diagnosis: Diagnosis = field(default_factory=lambda: Diagnosis("unknown", error="not run"))

    async def run(self, argv: list[str]) -> tuple[bool, str]:
        try:
            result = await self.runner.run(argv, self.timeout)
        except CommandFailed as failure:
            self.diagnosis = Diagnosis("unknown", error=str(failure))
            return False, str(failure)
        self.status = result.status
        self.output = (result.stdout + result.stderr)[:MAX_OUTPUT]
        self.diagnosis = parse_diag(result.stdout[:MAX_OUTPUT])
        if self.diagnosis.verdict == "unknown" and result.status != 0:
            line = clean(result.error_line(), 300)
            self.diagnosis = Diagnosis("unknown", error=f"exit status {result.status}: {line}")
        # The command ran: whether the GPUs passed is the verification's to say.
        return True, ""

    async def check(self, plan: Plan) -> list[TargetResult]:
        verdict = self.diagnosis.verdict
        return [
            TargetResult(t, verdict == "pass", verdict, self.diagnosis.summary())
            for t in plan.targets
        ]
