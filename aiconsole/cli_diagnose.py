"""``aiconsole diagnose HOST``: run the configured diagnosis on a host, as an audited action.

Exit codes as for the other actions: 0 the diagnosis passed; 1 it could not be run; 3 refused
or not confirmed; 4 it ran and did not pass (failed, or its output could not be judged).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import sys
import time
from pathlib import Path

from aiconsole.actions.diagnose import DiagnosisRun, plan_diagnose
from aiconsole.actions.execute import carry_out
from aiconsole.actions.policy import ActionRefused
from aiconsole.cli_actions import audit_log, policy_from
from aiconsole.cli_confirm import EXIT_REFUSED, EXIT_UNVERIFIED, confirm
from aiconsole.config import Inventory
from aiconsole.slurm.commands import InvalidArgument, check_node, check_reason
from aiconsole.slurm.runner import runner_for
from aiconsole.text import clean


def output_path(host: str) -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", host)
    return Path(state) / "aiconsole" / "diagnoses" / f"{safe}-{time.strftime('%Y%m%dT%H%M%S')}.txt"


def run_diagnose(args: argparse.Namespace, inventory: Inventory) -> int:
    policy = policy_from(args, inventory)
    try:
        if args.host != "local":
            check_node(args.host)
        if args.reason:
            check_reason(args.reason)
        if args.timeout <= 0:
            raise InvalidArgument("--timeout must be positive")
        plan = plan_diagnose(args.host, inventory.diagnose, reason=args.reason)
        plan = dataclasses.replace(plan, incident=args.incident)
        print(plan.describe())
        if args.dry_run:
            print("dry run: nothing was done")
            return 0
        policy.check_can_act()
        if not confirm(plan, args.yes, input):
            print("aiconsole: not confirmed: nothing was done", file=sys.stderr)
            return EXIT_REFUSED
        runner = runner_for(args.host, inventory.settings.ssh_config)
        run = DiagnosisRun(runner, args.timeout)

        async def act() -> None:
            try:
                await carry_out(
                    plan,
                    policy=policy,
                    audit=audit_log(inventory),
                    run=run.run,
                    verifier=run,
                    verify_timeout=0.0,
                )
            finally:
                runner.close()

        asyncio.run(act())
    except ActionRefused as refusal:
        print(f"aiconsole: refused: {refusal}", file=sys.stderr)
        return EXIT_REFUSED
    except InvalidArgument as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return 1
    if run.status is None:
        print(f"aiconsole: diagnose failed: {run.diagnosis.error}", file=sys.stderr)
        return 1
    saved = output_path(args.host)
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(run.output)
    diagnosis = run.diagnosis
    print(f"{args.host}: {diagnosis.summary()} (exit status {run.status}; output in {saved})")
    if diagnosis.verdict == "pass":
        again = f" --incident {args.incident}" if args.incident else ""
        print(f"passed: return it to service with `aiconsole resume {args.host}{again}`")
    for test in diagnosis.tests:
        if test.status in ("fail", "warn"):
            print(f"  {test.status.upper()} {test.name} GPU {test.gpus}")
            for message in test.messages:
                print(f"    {clean(message, 300)}")
    return 0 if diagnosis.verdict == "pass" else EXIT_UNVERIFIED
