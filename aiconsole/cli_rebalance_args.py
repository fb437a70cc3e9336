"""The options of ``aiconsole rebalance`` (parsing only: nothing heavy is imported here)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

POLICY_HELP = (
    "idle: jobs holding GPUs they do not use (needs the hosts' GPUs: --hosts or the config); "
    "defrag: requeue the fewest jobs so the largest blocked pending job can start; "
    "hot: move work off nodes whose GPUs run hot or carry warnings"
)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def add_rebalance_parser(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    rebalance = commands.add_parser(
        "rebalance",
        help="plan (and with --yes or --execute carry out) a rebalance of a Slurm cluster "
        "(--slurm, --cluster) or a Kubernetes context (--context); without those it only "
        "shows the plan",
    )
    rebalance.add_argument("--policy", choices=("idle", "defrag", "hot"), required=True,
                           help=POLICY_HELP)  # fmt: skip
    rebalance.add_argument(
        "--execute",
        action="store_true",
        help="carry the plan out after asking to confirm (type yes); --yes does not ask",
    )
    rebalance.add_argument(
        "--force", action="store_true", help="allow more than the share cap of a partition"
    )
    rebalance.add_argument("--max-moves", type=positive_int, default=8, metavar="N",
                           help="jobs moved in one run (default 8)")  # fmt: skip
    rebalance.add_argument("--max-per-node", type=positive_int, default=2, metavar="N",
                           help="jobs moved off one node (default 2)")  # fmt: skip
    rebalance.add_argument("--max-per-user", type=positive_int, default=4, metavar="N",
                           help="jobs of one user moved (default 4)")  # fmt: skip
    rebalance.add_argument(
        "--idle-util",
        type=float,
        default=1.0,
        metavar="PCT",
        help="idle: a GPU at or below this utilisation is idle (default 1)",
    )
    rebalance.add_argument(
        "--idle-minutes",
        type=float,
        default=30.0,
        metavar="M",
        help="idle: for at least this long (default 30)",
    )
    rebalance.add_argument(
        "--idle-action",
        choices=("notify", "requeue-hold", "evict"),
        default="notify",
        help="idle: only list the jobs or pods (default); requeue and hold the Slurm jobs; "
        "evict the Kubernetes pods their controller recreates",
    )
    rebalance.add_argument(
        "-n", "--namespace", help="Kubernetes: only pods of this namespace are moved"
    )
    rebalance.add_argument(
        "--reason", help="Kubernetes: the cordon reason (default: aiconsole rebalance POLICY)"
    )
    rebalance.add_argument(
        "--watch",
        type=float,
        metavar="S",
        help="idle and hot: seconds to watch the hosts' GPUs before planning (default: "
        "--idle-minutes plus two samples for idle, three samples for hot)",
    )
    common(rebalance)
