"""``aiconsole rebalance --policy idle|defrag|hot``: plan a rebalance of a Slurm cluster (or, with
``--context``, of a Kubernetes context: :mod:`aiconsole.cli_rebalance_kube`), show
it, and carry it out only when asked (``--yes``, or ``--execute`` and typing yes).

Showing the plan is the default: nothing is done without ``--yes`` or ``--execute``.
``defrag`` needs only the scheduler. ``idle`` and ``hot`` judge the hosts' GPUs too: the
hosts (``--hosts`` or the config) are watched for ``--watch`` seconds first, with the health
rules, because an idle GPU is one that has stayed idle (``--idle-minutes``), not one seen idle
once. Exit codes as the other actions: 0 shown, or done and verified; 1 error; 3 refused;
4 not verified in time.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from typing import TYPE_CHECKING

from aiconsole.actions.audit import AuditFailed, AuditLog
from aiconsole.actions.policy import ActionRefused, Policy, SitePolicyError
from aiconsole.actions.rebalance import Caps, plan_rebalance, verifier_for
from aiconsole.cli_actions import audit_log, cluster_target, on_slurm, policy_from
from aiconsole.cli_confirm import EXIT_REFUSED, confirm_and_carry_out, shown
from aiconsole.cli_kube import asked_contexts
from aiconsole.config import Inventory
from aiconsole.fleet_run import start_collecting, stop_collecting
from aiconsole.model import FleetSnapshot
from aiconsole.rebalance.hot import node_heat
from aiconsole.rebalance.policies import Choice, plan_policy
from aiconsole.slurm.commands import InvalidArgument
from aiconsole.slurm.reader import SlurmUnavailable, read_cluster
from aiconsole.slurm.runner import CommandFailed, Runner, runner_for

if TYPE_CHECKING:
    from aiconsole.fleet import Fleet

EXIT_USAGE = 64
NO_KUBERNETES = "rebalance on Kubernetes is not available in this build"


def run_rebalance(args: argparse.Namespace, inventory: Inventory) -> int:
    # Showing the plan is the default; acting needs --yes or --execute (Kubernetes too).
    args.dry_run = args.dry_run or not (args.yes or args.execute)
    if asked_contexts(args):
        return _on_kubernetes(args)
    try:
        if args.idle_action == "evict":
            raise InvalidArgument("--idle-action evict is for Kubernetes pods (--context); "
                                  "Slurm jobs are requeued and held (requeue-hold)")  # fmt: skip
        if args.idle_minutes < 0 or not 0 <= args.idle_util <= 100:
            raise InvalidArgument("--idle-minutes must be >= 0 and --idle-util in [0, 100]")
        policy = policy_from(args, inventory)
        if not args.dry_run:
            policy.check_can_act()
        name, where = cluster_target(args, inventory)
        snapshot = FleetSnapshot(generated_at=time.time())
        if args.policy in ("idle", "hot"):
            snapshot = watch_fleet(args, inventory)
        runner = runner_for(where, inventory.settings.ssh_config)
        try:
            audit = audit_log(inventory)
            timeout = inventory.settings.slurm_timeout
            return asyncio.run(_rebalance(args, name, runner, policy, audit, timeout, snapshot))
        finally:
            runner.close()
    except (ActionRefused, SitePolicyError) as refusal:
        print(f"aiconsole: refused: {refusal}", file=sys.stderr)
        return EXIT_REFUSED
    except (InvalidArgument, SlurmUnavailable, CommandFailed, AuditFailed) as error:
        print(f"aiconsole: error: {shown(str(error))}", file=sys.stderr)
        return 1


def _on_kubernetes(args: argparse.Namespace) -> int:
    try:
        from aiconsole.cli_rebalance_kube import (  # type: ignore[import-not-found, unused-ignore]
            run_kube_rebalance,
        )
    except ModuleNotFoundError as missing:
        if missing.name != "aiconsole.cli_rebalance_kube":
            raise  # the module is there but something it needs is not: say that instead
        print(f"aiconsole: error: {NO_KUBERNETES}", file=sys.stderr)
        return EXIT_USAGE
    code: int = run_kube_rebalance(args)
    return code


def choice_from(args: argparse.Namespace) -> Choice:
    return Choice(
        policy=args.policy,
        idle_action=args.idle_action,
        max_moves=args.max_moves,
        max_per_node=args.max_per_node,
        max_per_user=args.max_per_user,
    )


async def _rebalance(
    args: argparse.Namespace,
    name: str,
    runner: Runner,
    policy: Policy,
    audit: AuditLog,
    timeout: float,
    snapshot: FleetSnapshot,
) -> int:
    cluster = await read_cluster(name, runner, timeout)
    choice = choice_from(args)
    result = plan_policy(choice, snapshot, cluster, time.time())
    caps = Caps(choice.max_moves, choice.max_per_node, choice.max_per_user)
    plan = plan_rebalance(result, cluster, policy, caps, node_heat(snapshot, cluster))
    if not plan.command and plan.allowed:
        # Nothing to carry out (notify only, or nothing to move): the plan is the answer.
        print(shown(plan.describe()))
        print("nothing to carry out: the plan only lists")
        return 0

    execute = on_slurm(runner, timeout, policy, audit, args.verify_timeout, verifier_for(result))

    return await confirm_and_carry_out(plan, args, execute, audit, "Slurm")


def watch_fleet(args: argparse.Namespace, inventory: Inventory) -> FleetSnapshot:
    """The hosts' fleet watched for ``--watch`` seconds with the health rules (idle thresholds
    from the command line), as the live console would have judged it by then."""
    from aiconsole.cli import build_fleet
    from aiconsole.health.monitor import HealthMonitor

    thresholds = dataclasses.replace(
        inventory.health, idle_util_percent=args.idle_util, idle_minutes=args.idle_minutes
    )
    fleet = build_fleet(args, inventory)
    fleet.health = HealthMonitor(thresholds)  # no alerts from a rebalance's look
    interval = inventory.settings.interval if args.interval is None else args.interval
    seconds = args.watch
    if seconds is None:
        seconds = args.idle_minutes * 60 + 2 * interval if args.policy == "idle" else 3 * interval
    try:
        return asyncio.run(_watch(fleet, max(seconds, 0.0), interval))
    finally:
        fleet.close()


async def _watch(fleet: Fleet, seconds: float, interval: float) -> FleetSnapshot:
    loop = asyncio.get_running_loop()
    workers = start_collecting(fleet)
    started = loop.time()
    snapshot = fleet.live_snapshot()
    samples = 0
    try:
        # At least two judged samples: the health rules raise nothing on one.
        while samples < 3 or loop.time() - started < seconds:
            await asyncio.sleep(interval)
            snapshot = fleet.live_snapshot()
            samples += 1
    finally:
        await stop_collecting(fleet, workers)
    return snapshot
