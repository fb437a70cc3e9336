"""``aiconsole rebalance --context NAME``: the Kubernetes half of the rebalance command.

Collects the fleet once (the hosts' GPU telemetry and the health findings on them), reads
the cluster and its PodDisruptionBudgets, plans the policy, then shows, confirms, carries
out and reports through the same step as every other action (:mod:`aiconsole.cli_confirm`).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import dataclasses
import sys
from typing import TYPE_CHECKING

from aiconsole.actions.policy import ActionRefused, SitePolicyError, load_site_policy
from aiconsole.cli_confirm import EXIT_REFUSED, confirm_and_carry_out, shown
from aiconsole.cli_kube import _policy, asked_contexts, kubeconfig
from aiconsole.cli_options import EXIT_USAGE
from aiconsole.kubernetes.names import InvalidName, check_context, check_namespace, check_reason

if TYPE_CHECKING:
    from aiconsole.actions.audit import AuditLog
    from aiconsole.actions.policy import Policy
    from aiconsole.config import Inventory
    from aiconsole.model import Finding, FleetSnapshot

KUBE_POLICIES = ("hot", "idle")
IDLE_ACTIONS = ("notify", "evict")


class UsageProblem(Exception):
    """A request this command cannot serve on Kubernetes: one line, exit 64."""


def _idle_action(args: argparse.Namespace) -> str:
    action = getattr(args, "idle_action", None) or getattr(args, "action", None) or "notify"
    if action not in IDLE_ACTIONS:
        raise UsageProblem(
            f"rebalance --policy idle on Kubernetes acts by {' or '.join(IDLE_ACTIONS)}, "
            f"not {action}"
        )
    return str(action)


def _check_policy(args: argparse.Namespace) -> str:
    name = str(getattr(args, "policy", None))
    if name == "defrag":
        raise UsageProblem(
            "rebalance --policy defrag requeues Slurm jobs and has no Kubernetes form: "
            "use --slurm/--cluster, or --policy hot|idle with --context"
        )
    if name not in KUBE_POLICIES:
        raise UsageProblem(f"rebalance --policy {name}: Kubernetes has {', '.join(KUBE_POLICIES)}")
    return name


def _telemetry(
    args: argparse.Namespace, inventory: Inventory, context: str
) -> tuple[FleetSnapshot, tuple[Finding, ...]]:
    """One collection of the hosts (their GPUs) and the one cluster, judged once."""
    from aiconsole.cli import build_fleet
    from aiconsole.health import judge

    watch = copy.copy(args)
    for name, default in (
        ("interval", None),
        ("timeout", None),
        ("accept_new_host_keys", False),
        ("hosts", None),
        ("prometheus", None),
        ("command", "rebalance"),
    ):
        setattr(watch, name, getattr(args, name, default))
    # Only this context; no Slurm cluster: their state plays no part in this plan.
    watch.slurm, watch.cluster = None, None
    watch.context, watch.context_after = [context], None
    fleet = build_fleet(watch, dataclasses.replace(inventory, clusters={}))
    try:
        snapshot = fleet.collect_once(0.0)
    finally:
        fleet.close()
    return snapshot, judge(snapshot, inventory.health)


def run_kube_rebalance(args: argparse.Namespace) -> int:
    """Plan (and with confirmation carry out) ``args.policy`` on ``args.context``."""
    from aiconsole.cli import load_inventory
    from aiconsole.cli_actions import audit_log

    try:
        if _check_policy(args) == "idle":
            _idle_action(args)  # refused before any contact with a cluster
    except UsageProblem as problem:
        print(f"aiconsole: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    inventory = load_inventory(args)
    try:
        contexts = asked_contexts(args) or list(inventory.kubernetes.contexts)
        if len(contexts) != 1 or contexts == ["all"]:
            known = ", ".join(inventory.kubernetes.contexts) or "none configured"
            raise InvalidName(
                f"rebalance: name exactly one cluster with --context NAME (configured: {known})"
            )
        context = check_context(contexts[0])
        policy = load_site_policy().apply(_policy(args, inventory, context))
        if not args.dry_run:
            policy.check_can_act()
        namespace = getattr(args, "namespace", None)
        if namespace is not None:
            check_namespace(namespace)
        if getattr(args, "reason", None) is not None:
            check_reason(args.reason)
        from aiconsole.kubernetes.api import ApiError, KubeUnavailable

        try:
            snapshot, findings = _telemetry(args, inventory, context)
            return asyncio.run(
                _act(args, inventory, context, policy, audit_log(inventory), snapshot, findings)
            )
        except (KubeUnavailable, ApiError) as error:
            print(f"aiconsole: error: {shown(str(error))}", file=sys.stderr)
            return 1
    except (ActionRefused, SitePolicyError) as refusal:
        print(f"aiconsole: refused: {refusal}", file=sys.stderr)
        return EXIT_REFUSED
    except InvalidName as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return 1


async def _act(
    args: argparse.Namespace,
    inventory: Inventory,
    context: str,
    policy: Policy,
    audit: AuditLog,
    snapshot: FleetSnapshot,
    findings: tuple[Finding, ...],
) -> int:
    from aiconsole.actions.kubernetes_session import KubeTarget
    from aiconsole.actions.rebalance_kube_run import prepare

    target = KubeTarget(context, kubeconfig(inventory), inventory.kubernetes.timeout)
    minutes = getattr(args, "idle_minutes", None)
    _result, plan, execute = await prepare(
        target,
        args.policy,
        snapshot,
        findings,
        policy,
        audit,
        idle_action=_idle_action(args) if args.policy == "idle" else "notify",
        min_idle_s=0.0 if minutes is None else float(minutes) * 60.0,
        reason=getattr(args, "reason", None),
        namespace=getattr(args, "namespace", None),
        verify_timeout=getattr(args, "verify_timeout", 60.0),
    )
    if plan.allowed and not plan.targets:
        print(shown(plan.describe()), flush=True)
        print("nothing to move (the plan only tells): nothing was done")
        return 0
    return await confirm_and_carry_out(plan, args, execute, audit, "Kubernetes")
