"""``aiconsole logs POD -n NS --context C [-c CONTAINER]``: the pod's log for scripts.

Kept apart from :mod:`aiconsole.cli_logs` so a Slurm job's log never imports the Kubernetes
client (about 0.4 s of start-up).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator

from aiconsole.cli_kube import asked_contexts, kubeconfig
from aiconsole.cli_logs import LogTargetError
from aiconsole.config import Inventory
from aiconsole.kubernetes.names import InvalidName, check_context


def pod_context(args: argparse.Namespace, inventory: Inventory) -> str:
    contexts = asked_contexts(args) or list(inventory.kubernetes.contexts)
    if len(contexts) != 1 or contexts == ["all"]:
        known = ", ".join(inventory.kubernetes.contexts) or "none configured"
        raise LogTargetError(
            f"logs: name exactly one Kubernetes cluster with --context NAME (configured: {known})"
        )
    try:
        return check_context(contexts[0])
    except InvalidName as error:
        raise LogTargetError(str(error)) from None


async def pod_lines(args: argparse.Namespace, inventory: Inventory) -> AsyncIterator[str]:
    from aiconsole.logs.pod import follow_pod

    context = pod_context(args, inventory)
    space, _, name = args.target.rpartition("/")
    async for line in follow_pod(
        context,
        kubeconfig(inventory),
        inventory.kubernetes.timeout,
        space or args.namespace or "default",
        name,
        container=args.container,
        count=args.lines,
        follow=args.follow,
        say=lambda text: print(f"aiconsole: {text}", file=sys.stderr),
    ):
        yield line
