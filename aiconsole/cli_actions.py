"""The action commands: ``drain``, ``resume``, ``requeue``, ``release`` and ``audit``.

Every action goes plan -> print the plan -> confirm (``--yes`` or typing ``yes``) -> execute
-> verify -> audit. ``--dry-run`` stops after the plan. Exit codes: 0 done and verified;
1 error; 3 refused (role, read-only, blast radius, unknown target, no confirmation);
4 executed but not verified in time, or sent without an answer so its outcome is unknown
(the audit log has the per-target outcome).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiconsole.actions import slurm as slurm_actions
from aiconsole.actions.audit import AuditFailed, AuditLog, format_record
from aiconsole.actions.plan import Outcome, Plan
from aiconsole.actions.policy import ActionRefused, Policy, SitePolicyError, load_site_policy
from aiconsole.cli_confirm import (
    EXIT_REFUSED,
    Progress,
    confirm_and_carry_out,
    shown,
)
from aiconsole.cli_kube import run_kube_action, wants_kubernetes
from aiconsole.config import Inventory
from aiconsole.kubernetes.names import InvalidName
from aiconsole.model import SlurmCluster
from aiconsole.nodeset import NodeSetError, expand
from aiconsole.slurm.commands import (
    InvalidArgument,
    check_host,
    check_job,
    check_node,
    check_reason,
)
from aiconsole.slurm.reader import SlurmUnavailable, read_cluster
from aiconsole.slurm.runner import CommandFailed, Runner, runner_for

ACTIONS = ("drain", "resume", "undrain", "requeue", "release", "cordon", "uncordon", "restart")


def audit_log(inventory: Inventory) -> AuditLog:
    path = inventory.settings.audit_log
    return AuditLog(Path(path) if path else None)


def run_audit(inventory: Inventory, incident: str | None = None) -> int:
    log = audit_log(inventory)
    records = [r for r in log.records() if incident is None or r.get("incident") == incident]
    if not records:
        print(f"no actions recorded in {log.path}")
    for record in records:
        print(format_record(record))
    return 0


def run_audit_command(args: argparse.Namespace, inventory: Inventory) -> int:
    return run_audit(inventory, args.incident)


def cluster_target(args: argparse.Namespace, inventory: Inventory) -> tuple[str, str]:
    """(cluster name, where its commands run) from --slurm/--cluster or the config."""
    if args.slurm:
        return check_host(args.slurm), args.slurm
    if args.cluster:
        if args.cluster not in inventory.clusters:
            known = ", ".join(inventory.clusters) or "none configured"
            raise InvalidArgument(f"no cluster {args.cluster!r} in the config ({known})")
        return args.cluster, inventory.clusters[args.cluster]
    if len(inventory.clusters) == 1:
        return next(iter(inventory.clusters.items()))
    if not inventory.clusters:
        raise InvalidArgument("no Slurm cluster: give --slurm HOST (or local) or [clusters]")
    raise InvalidArgument("several clusters configured: choose one with --cluster NAME")


def policy_from(args: argparse.Namespace, inventory: Inventory) -> Policy:
    """Who may act and how much: the config and the command line, within the site policy.

    A site policy file that exists but does not read as one raises ``SitePolicyError``:
    its limits are unknown, so nothing may act.
    """
    settings = inventory.settings
    policy = Policy(
        role=settings.role,
        read_only=args.read_only,
        max_out_of_service=getattr(args, "max_out_of_service", None) or settings.max_out_of_service,
        force=getattr(args, "force", False),
    )
    return load_site_policy().apply(policy)


def run_action(args: argparse.Namespace, inventory: Inventory) -> int:
    try:
        on_kubernetes = wants_kubernetes(args, inventory)
    except InvalidName as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return 1
    if on_kubernetes:
        return run_kube_action(args, inventory, audit_log(inventory))
    settings = inventory.settings
    try:
        policy = policy_from(args, inventory)
        if not args.dry_run:
            policy.check_can_act()
        validate_targets(args)  # before any contact with Slurm
        name, where = cluster_target(args, inventory)
        runner = runner_for(where, settings.ssh_config)
        try:
            audit = audit_log(inventory)
            return asyncio.run(_act(args, name, runner, policy, audit, settings.slurm_timeout))
        finally:
            runner.close()
    except (ActionRefused, SitePolicyError) as refusal:
        print(f"aiconsole: refused: {refusal}", file=sys.stderr)
        return EXIT_REFUSED
    except (InvalidArgument, NodeSetError, SlurmUnavailable, CommandFailed, AuditFailed) as error:
        print(f"aiconsole: error: {shown(str(error))}", file=sys.stderr)
        return 1


async def _act(
    args: argparse.Namespace,
    name: str,
    runner: Runner,
    policy: Policy,
    audit: AuditLog,
    timeout: float,
) -> int:
    cluster = await read_cluster(name, runner, timeout)
    plan = make_plan(args, cluster, policy)

    execute = on_slurm(runner, timeout, policy, audit, args.verify_timeout)
    return await confirm_and_carry_out(plan, args, execute, audit, "Slurm")


def on_slurm(
    runner: Runner,
    timeout: float,
    policy: Policy,
    audit: AuditLog,
    verify_timeout: float,
    verifier: slurm_actions.VerifierFactory | None = None,
) -> Callable[[Plan, Progress], Awaitable[Outcome]]:
    """How a confirmed plan is carried out on the cluster ``runner`` reaches."""

    def execute(plan: Plan, progress: Progress) -> Awaitable[Outcome]:
        return slurm_actions.carry_out_on_slurm(
            plan,
            runner,
            timeout,
            policy=policy,
            audit=audit,
            progress=progress,
            verify_timeout=verify_timeout,
            verifier=verifier,
        )

    return execute


def validate_targets(args: argparse.Namespace) -> None:
    if hasattr(args, "nodes"):
        for node in expand(args.nodes):
            check_node(node)
    for job in getattr(args, "jobs", []):
        check_job(job)
    if args.command == "drain":
        if not args.reason:
            raise InvalidArgument("drain on Slurm needs --reason (shown to everyone by sinfo -R)")
        check_reason(args.reason)


def make_plan(args: argparse.Namespace, cluster: SlurmCluster, policy: Policy) -> Plan:
    if args.command in ("drain", "resume", "undrain"):
        return slurm_actions.plan_action(
            cluster, args.command, expand(args.nodes), policy, getattr(args, "reason", None)
        )
    action = "requeue-hold" if getattr(args, "hold", False) else args.command
    return slurm_actions.plan_action(cluster, action, args.jobs, policy)
