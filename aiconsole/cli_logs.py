"""``aiconsole logs``: a Slurm job's output file, or a Kubernetes pod's log, for scripts.

``aiconsole logs JOBID [--slurm HOST|--cluster NAME]`` reads the job's StdOut (``--stderr``:
its StdErr) over the cluster's SSH host or the job's batch node; ``aiconsole logs POD -n NS
--context C [-c CONTAINER]`` reads the pod's log through the API server. The last
``--lines`` lines at once, then with ``--follow`` every new one until the job or pod ends
(or Ctrl+C). Lines go to stdout, cleaned; where they come from goes to stderr, so the output
is the log and nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator

from aiconsole.config import Inventory

EXIT_OK = 0
EXIT_ERROR = 1
MAX_LINES = 100_000
"""The most lines asked for at once (each line is bounded too: a few hundred MB at most)."""


class LogTargetError(ValueError):
    """No (or no single) cluster to read from: one line, exit 1."""


def is_pod_request(args: argparse.Namespace, inventory: Inventory) -> bool:
    """A pod when a Kubernetes option says so, or when the target is no job id and only
    Kubernetes is configured."""
    from aiconsole.cli_kube import asked_contexts
    from aiconsole.slurm.commands import JOB_ID

    if args.namespace or args.container or asked_contexts(args):
        return True
    return not JOB_ID.fullmatch(args.target) and bool(inventory.kubernetes.contexts)


def slurm_target(args: argparse.Namespace, inventory: Inventory) -> tuple[str, str]:
    """(cluster name, where its commands run) for ``--slurm``/``--cluster``/the config."""
    if args.slurm:
        return args.slurm, args.slurm
    configured = dict(inventory.clusters)
    if args.cluster:
        if args.cluster not in configured:
            known = ", ".join(configured) or "none configured"
            raise LogTargetError(f"no Slurm cluster {args.cluster!r} in the config ({known})")
        return args.cluster, configured[args.cluster]
    if len(configured) == 1:
        return next(iter(configured.items()))
    if not configured:
        raise LogTargetError(
            "no Slurm cluster: give --slurm HOST (or local) or --cluster NAME, or, for a pod, "
            "-n NAMESPACE --context NAME"
        )
    raise LogTargetError(
        f"several Slurm clusters are configured ({', '.join(configured)}): name one with "
        "--cluster NAME"
    )


def run_logs(args: argparse.Namespace, inventory: Inventory) -> int:
    if not 0 <= args.lines <= MAX_LINES:
        from aiconsole.cli import UsageError

        raise UsageError(f"--lines must be 0 to {MAX_LINES}")
    try:
        if is_pod_request(args, inventory):
            from aiconsole.cli_logs_pod import pod_lines

            stream = pod_lines(args, inventory)
        else:
            stream = job_lines(args, inventory)
        return asyncio.run(_print(stream))
    except LogTargetError as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return EXIT_ERROR


async def _print(lines: AsyncIterator[str]) -> int:
    from aiconsole.logs.lines import LogUnavailable

    try:
        async for line in lines:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()  # a follower reads each line as it comes
    except LogUnavailable as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


async def job_lines(args: argparse.Namespace, inventory: Inventory) -> AsyncIterator[str]:
    from aiconsole.logs import slurm_job
    from aiconsole.logs.lines import LogUnavailable
    from aiconsole.slurm.commands import InvalidArgument, check_job
    from aiconsole.slurm.runner import runner_for

    name, where = slurm_target(args, inventory)
    settings = inventory.settings
    try:
        check_job(args.target)
        runner = runner_for(where, settings.ssh_config)
    except InvalidArgument as error:
        raise LogUnavailable(str(error)) from None
    try:
        async for line in slurm_job.job_lines(
            runner,
            args.target,
            cluster=name,
            count=args.lines,
            follow=args.follow,
            say=lambda text: print(f"aiconsole: {text}", file=sys.stderr),
            stderr=args.stderr,
            timeout=settings.slurm_timeout,
            ssh_config=settings.ssh_config,
        ):
            yield line
    finally:
        runner.close()
