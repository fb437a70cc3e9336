"""Kubernetes on the command line: which contexts, their collectors, and the actions.

``--context NAME`` (repeatable; ``all`` for every context in the kubeconfig) before or after
the command, else ``[kubernetes] contexts`` in the config. Nothing here imports the
``kubernetes`` package until a context is actually selected.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.policy import ActionRefused, Policy
from aiconsole.cli_confirm import EXIT_REFUSED
from aiconsole.config import Inventory
from aiconsole.kubernetes.names import (
    InvalidName,
    check_context,
    check_namespace,
    check_node,
    check_reason,
)
from aiconsole.nodeset import NodeSetError, expand
from aiconsole.store import FleetStore

if TYPE_CHECKING:
    from aiconsole.actions.kubernetes import DrainOptions
    from aiconsole.collectors.kubernetes import KubeCollector
    from aiconsole.model import FleetSnapshot

KUBE_ONLY = ("cordon", "uncordon", "restart")


def asked_contexts(args: argparse.Namespace) -> list[str]:
    """Contexts named on the command line, before and after the command, in order."""
    given = [*(getattr(args, "context", None) or []), *(getattr(args, "context_after", None) or [])]
    return list(dict.fromkeys(given))


def kubeconfig(inventory: Inventory) -> str:
    from aiconsole.kubernetes.api import kubeconfig_paths

    return kubeconfig_paths(inventory.kubernetes.kubeconfig)


def selected_contexts(args: argparse.Namespace, inventory: Inventory) -> list[str]:
    """The contexts this run watches or acts on; ``all`` expands from the kubeconfig."""
    wanted = asked_contexts(args) or list(inventory.kubernetes.contexts)
    if "all" in wanted:
        from aiconsole.kubernetes.api import KubeUnavailable, list_contexts

        try:
            names, _current = list_contexts(kubeconfig(inventory))
        except KubeUnavailable as error:
            raise InvalidName(f"--context all: {error}") from None
        wanted = list(dict.fromkeys([*names, *(w for w in wanted if w != "all")]))
    for context in wanted:
        check_context(context)
    return wanted


def kube_collectors(
    args: argparse.Namespace, inventory: Inventory, store: FleetStore
) -> list[KubeCollector]:
    contexts = selected_contexts(args, inventory)
    if not contexts:
        return []
    from aiconsole.collectors.kubernetes import KubeCollector

    paths = kubeconfig(inventory)
    return [
        KubeCollector(context, store, kubeconfig=paths, timeout=inventory.kubernetes.timeout)
        for context in contexts
    ]


def wants_kubernetes(args: argparse.Namespace, inventory: Inventory) -> bool:
    """Whether this action command acts on Kubernetes (True) or Slurm (False).

    ``drain`` serves both: ``--context`` means Kubernetes, ``--slurm``/``--cluster`` Slurm;
    with neither, whichever one kind is configured, and a refusal when both are."""
    if args.command in KUBE_ONLY:
        return True
    if args.command != "drain":
        if asked_contexts(args):
            raise InvalidName(
                f"{args.command} acts on Slurm; --context is for cordon, uncordon, drain and "
                "restart on Kubernetes"
            )
        return False
    slurm = bool(getattr(args, "slurm", None) or getattr(args, "cluster", None))
    kube = bool(asked_contexts(args))
    if slurm and kube:
        raise InvalidName(
            "drain: give --context (Kubernetes) or --slurm/--cluster (Slurm), not both"
        )
    if slurm or kube:
        return kube
    if inventory.kubernetes.contexts and inventory.clusters:
        raise InvalidName(
            "drain: both Slurm clusters and Kubernetes contexts are configured: choose with "
            "--slurm/--cluster NAME (Slurm) or --context NAME (Kubernetes)"
        )
    return bool(inventory.kubernetes.contexts)


def _policy(args: argparse.Namespace, inventory: Inventory, context: str) -> Policy:
    # On Kubernetes --force keeps kubectl's meaning; only --max-out-of-service lifts the cap.
    cap = getattr(args, "max_out_of_service", None)
    if cap is None:
        cap = inventory.kubernetes.cap_for(context, inventory.settings.max_out_of_service)
    return Policy(
        role=inventory.settings.role,
        read_only=bool(getattr(args, "read_only", False)),
        max_out_of_service=cap,
    )


def _validate(args: argparse.Namespace) -> None:
    """Every name and the reason, before any contact with a cluster."""
    if hasattr(args, "nodes"):
        for node in expand(args.nodes):
            check_node(node)
    if args.command == "restart":
        from aiconsole.actions.kubernetes import split_pod

        check_namespace(args.namespace)
        for pod in args.pods:
            split_pod(pod, args.namespace)
    reason = getattr(args, "reason", None)
    if reason is not None:
        check_reason(reason)
    for option, value in (
        ("--timeout", getattr(args, "drain_timeout", None)),
        ("--grace-period", getattr(args, "grace_period", None)),
    ):
        if value is not None and value < 0:
            raise InvalidName(f"{option} must be >= 0")


def _options(args: argparse.Namespace) -> DrainOptions:
    from aiconsole.actions.kubernetes import DrainOptions

    timeout = getattr(args, "drain_timeout", None)
    return DrainOptions(
        force=bool(getattr(args, "force", False)),
        delete_emptydir_data=bool(getattr(args, "delete_emptydir_data", False)),
        grace_period=getattr(args, "grace_period", None),
        timeout=None if timeout == 0 else (300.0 if timeout is None else timeout),
    )


def run_kube_action(args: argparse.Namespace, inventory: Inventory, audit: AuditLog) -> int:
    try:
        contexts = asked_contexts(args) or list(inventory.kubernetes.contexts)
        if len(contexts) != 1 or contexts == ["all"]:
            known = ", ".join(inventory.kubernetes.contexts) or "none configured"
            raise InvalidName(
                f"{args.command}: name exactly one cluster with --context NAME "
                f"(configured: {known})"
            )
        context = check_context(contexts[0])
        policy = _policy(args, inventory, context)
        if not args.dry_run:
            policy.check_can_act()
        _validate(args)
        from aiconsole.kubernetes.api import ApiError, KubeUnavailable

        try:
            return asyncio.run(_act(args, inventory, context, policy, audit))
        except (KubeUnavailable, ApiError) as error:
            print(f"aiconsole: error: {error}", file=sys.stderr)
            return 1
    except ActionRefused as refusal:
        print(f"aiconsole: refused: {refusal}", file=sys.stderr)
        return EXIT_REFUSED
    except (InvalidName, NodeSetError) as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return 1


async def _act(
    args: argparse.Namespace, inventory: Inventory, context: str, policy: Policy, audit: AuditLog
) -> int:
    """The same prepare -> confirm -> execute as the TUI's plan modal."""
    from aiconsole.actions.kubernetes_session import KubeTarget, prepare
    from aiconsole.cli_confirm import confirm_and_carry_out

    target = KubeTarget(context, kubeconfig(inventory), inventory.kubernetes.timeout)
    plan, execute = await prepare(
        target,
        args.command,
        args.pods if args.command == "restart" else expand(args.nodes),
        policy,
        audit,
        options=_options(args),
        reason=getattr(args, "reason", None),
        namespace=getattr(args, "namespace", "default"),
        verify_timeout=args.verify_timeout,
    )
    return await confirm_and_carry_out(plan, args, execute, audit, "Kubernetes")


def format_kubernetes(snapshot: FleetSnapshot) -> list[str]:
    """The text form of ``snapshot``'s Kubernetes clusters: nodes with GPUs, then pods."""
    lines: list[str] = []
    for cluster in snapshot.kubernetes:
        age = "" if cluster.age_s is None else f", data {cluster.age_s:.0f} s old"
        lines.append("")
        lines.append(
            f"Kubernetes {cluster.name}: {cluster.status}"
            + (f" ({cluster.reason})" if cluster.reason else "")
            + f", {len(cluster.nodes)} nodes, {len(cluster.pods)} pods{age}"
        )
        for node in cluster.nodes:
            gpus = f"GPUs {node.gpus_used}/{node.gpus_total}" if node.gpu_allocatable else ""
            extra = node.gpu_product or ""
            lines.append(f"  {node.name:<18} {node.summary:<28} {gpus:<11} {extra}".rstrip())
        for pod in cluster.pods:
            held = sum(pod.gpus.values())
            why = pod.pending_reason or ""
            lines.append(
                f"  {pod.namespace + '/' + pod.name:<44} {pod.phase:<10} "
                f"{pod.node or '-':<14} GPUs {held}  {why}".rstrip()
            )
    return lines
