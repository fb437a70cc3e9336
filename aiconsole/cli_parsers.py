"""The parser of the ``aiconsole`` command line: every command and its own options.

Kept apart from what runs the commands so that parsing imports nothing heavy: a command's
modules are imported when it runs (see ``aiconsole.cli``). The global options come from
``aiconsole.cli_options``, defined once and spread onto every command here.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from aiconsole import __version__
from aiconsole.cli_options import UsageParser, add_global_options, spread_global_options

# Exit codes per command path, shown at the end of each command's --help (64, a usage
# error, is added to all). Commands not listed here: 0 done, 1 error.
EXIT_CODES = {
    "snapshot": "0 every host and cluster ok; 2 output printed but something is not ok; "
    "1 error (one line on stderr, nothing printed)",
    "hosts": "0 every host ok; 2 some host is not ok; 1 error",
    "hosts check": "0 every host ok; 2 some host is not ok; 1 error",
    "health": "0 ok; 1 warning; 2 critical; 3 nothing could be judged",
    "schema": "0 printed",
    "serve": "0 stopped; 1 error (e.g. the address is taken)",
    "diagnose": "0 pass; 4 fail; 1 could not run; 3 refused",
    "audit": "0 printed; 1 error",
    "record": "0 recorded and closed; 1 error",
    "logs": "0 printed (with --follow: once the job or pod has ended; 130 on Ctrl+C); 1 error "
    "(job, pod, file or cluster not found or not readable; one line on stderr)",
    "replay": "0 shown; 1 error (unreadable recording); with snapshot: as snapshot",
    **{
        action: "0 done and verified; 1 error; 3 refused (role, read-only, blast radius, "
        "unknown target, no confirmation); 4 not verified in time or outcome unknown"
        for action in (
            "drain",
            "resume",
            "undrain",
            "requeue",
            "release",
            "cordon",
            "uncordon",
            "restart",
            "rebalance",
        )
    },
}


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="aiconsole",
        description="Live console for GPU hosts. With no command: open the TUI. With no "
        "configuration and no --hosts: this machine. Global options go before or after "
        "the command.",
        epilog="exit codes: 0 ok; 1 error; 64 usage error; each command's --help lists its own",
    )
    parser.add_argument("--version", action="version", version=f"aiconsole {__version__}")
    add_global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    snapshot = commands.add_parser("snapshot", help="collect once, print, exit")
    snapshot.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    snapshot.add_argument(
        "--window",
        type=float,
        default=0.25,
        metavar="S",
        help="take two samples S seconds apart so rates (CPU %%, bytes/s) are filled in; "
        "0 takes one sample and reports rates as unavailable (default 0.25)",
    )
    health = commands.add_parser("health", help="collect once, judge, print findings")
    health.add_argument("--json", action="store_true", help="print the findings as JSON")
    health.add_argument(
        "--window",
        type=float,
        default=0.25,
        metavar="S",
        help="seconds between the two samples that give rates; 0: one sample (default 0.25)",
    )
    schema = commands.add_parser("schema", help="print the JSON Schema of `snapshot --json`")
    schema.add_argument(
        "--health", action="store_true", help="the schema of `health --json` instead"
    )
    serve = commands.add_parser(
        "serve", help="collect continuously and serve the snapshot as Prometheus metrics"
    )
    serve.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="address to serve /metrics on (default: the config's [serve] listen, else "
        "127.0.0.1:9400)",
    )
    hosts = commands.add_parser("hosts", help="inventory tools")
    hosts_commands = hosts.add_subparsers(dest="hosts_command", metavar="SUBCOMMAND", required=True)
    hosts_commands.add_parser(
        "check", help="reachability, auth, round trip and probe version of every host"
    )
    add_action_parsers(commands)
    add_diagnose_parser(commands)
    add_health_parsers(commands)
    add_record_parsers(commands)
    add_logs_parser(commands)
    # Last, once every command exists: a command added above gets the global options too.
    spread_global_options(parser, EXIT_CODES)
    return parser


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def incident_id(text: str) -> str:
    """An incident id as ``health`` prints it: ``<host>-<8 hex>``."""
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}-[0-9a-f]{8}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an incident id (e.g. gpu07-3f9a2c1b)")
    return text


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("a share in (0, 1], e.g. 0.5")
    return value


def duration(text: str) -> float:
    """``90s``, ``30m``, ``2h``, ``1d`` (or plain seconds) -> seconds."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([smhd]?)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 2h or 1d")
    return float(match.group(1)) * UNITS.get(match.group(2) or "s", 1)


def add_action_parsers(commands: argparse._SubParsersAction[UsageParser]) -> None:
    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--max-out-of-service",
            type=share,
            metavar="F",
            help="for this command only: the largest share (0-1] of a partition's or "
            "cluster's GPU nodes that may be out of service",
        )
        parser.add_argument("--dry-run", action="store_true", help="show the plan, do nothing")
        parser.add_argument("--yes", "-y", action="store_true", help="do not ask to confirm")
        parser.add_argument(
            "--incident",
            type=incident_id,
            metavar="ID",
            help="the incident (from `aiconsole health`) this action belongs to; audited with it",
        )
        parser.add_argument(
            "--verify-timeout",
            type=float,
            default=60.0,
            metavar="S",
            help="how long to wait for the new state to show (default 60)",
        )

    drain = commands.add_parser(
        "drain",
        help="drain Slurm nodes (running jobs finish) or Kubernetes nodes (--context: cordon, "
        "then evict their pods)",
    )
    drain.add_argument("nodes", metavar="NODESET")
    drain.add_argument(
        "--reason",
        help="why (Slurm: required, shown by sinfo -R; Kubernetes: optional, set as a node "
        "annotation)",
    )
    drain.add_argument(
        "--force",
        action="store_true",
        help="Slurm: allow more than the share cap (as --max-out-of-service 1); Kubernetes "
        "(kubectl's meaning): also evict pods that declare no controller",
    )
    drain.add_argument(
        "--timeout",
        dest="drain_timeout",
        type=float,
        metavar="S",
        help="Kubernetes: how long the evictions may take (default 300; 0: no limit)",
    )
    drain.add_argument(
        "--grace-period",
        type=int,
        metavar="S",
        help="Kubernetes: seconds each pod gets to stop (default: the pod's own)",
    )
    drain.add_argument(
        "--delete-emptydir-data",
        action="store_true",
        help="Kubernetes: also evict pods with emptyDir data (the data is lost)",
    )
    common(drain)
    for name in ("cordon", "uncordon"):
        cordon = commands.add_parser(
            name, help=f"{name} Kubernetes nodes (spec.unschedulable, as kubectl {name})"
        )
        cordon.add_argument("nodes", metavar="NODESET")
        cordon.add_argument(
            "--reason", help="why (set as a node annotation; kubectl describe node shows it)"
        )
        common(cordon)
    restart = commands.add_parser(
        "restart", help="delete Kubernetes pods so their Job/ReplicaSet/StatefulSet recreates them"
    )
    restart.add_argument("pods", metavar="POD", nargs="+", help="NAME or NAMESPACE/NAME")
    restart.add_argument("-n", "--namespace", default="default", help="(default: default)")
    common(restart)
    for name in ("resume", "undrain"):
        resume = commands.add_parser(name, help="return drained/down Slurm nodes to service")
        resume.add_argument("nodes", metavar="NODESET")
        common(resume)
    requeue = commands.add_parser("requeue", help="requeue running Slurm jobs")
    requeue.add_argument("jobs", metavar="JOBID", nargs="+")
    requeue.add_argument("--hold", action="store_true", help="requeue and hold (release later)")
    common(requeue)
    release = commands.add_parser("release", help="release held Slurm jobs")
    release.add_argument("jobs", metavar="JOBID", nargs="+")
    common(release)
    from aiconsole.cli_rebalance_args import add_rebalance_parser

    add_rebalance_parser(commands, common)
    audit = commands.add_parser("audit", help="show the audit log of actions")
    audit.add_argument(
        "--incident", metavar="ID", help="only the records of one incident, oldest first"
    )


def add_diagnose_parser(commands: argparse._SubParsersAction[UsageParser]) -> None:
    diagnose = commands.add_parser(
        "diagnose",
        help="run the configured GPU diagnosis on a host ([health] diagnose, default "
        "'dcgmi diag -r 1 -j'); exit 0 pass, 4 fail, 1 could not run, 3 refused",
    )
    diagnose.add_argument("host", help="an SSH host (as ssh resolves it) or 'local'")
    diagnose.add_argument("--reason", help="why (goes into the audit log)")
    diagnose.add_argument(
        "--incident", type=incident_id, metavar="ID", help="the incident this diagnosis belongs to"
    )
    diagnose.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="S",
        help="how long the diagnosis may run (default 900)",
    )
    diagnose.add_argument("--dry-run", action="store_true", help="show the plan, do nothing")
    diagnose.add_argument("--yes", "-y", action="store_true", help="do not ask to confirm")


def add_health_parsers(commands: argparse._SubParsersAction[UsageParser]) -> None:
    ack = commands.add_parser(
        "ack", help="acknowledge a finding by its incident id (no more alerts for it)"
    )
    ack.add_argument("incident", help="the incident id `health` shows, e.g. gpu07-3f9a2c1b")
    ack.add_argument("--note", required=True, help="who handles it and how")
    silence = commands.add_parser(
        "silence", help="silence a rule on a subject for a while (no alerts, not counted)"
    )
    silence.add_argument("rule", help="a rule id such as gpu.xid_critical, or '*'")
    silence.add_argument(
        "--subject", default="", help="a host, or a part such as gpu07/gpu/3 (default: all)"
    )
    silence.add_argument(
        "--for",
        dest="seconds",
        type=duration,
        required=True,
        metavar="DURATION",
        help="how long: 30m, 2h, 1d (at most 30 days)",
    )
    silence.add_argument("--note", required=True, help="why")


def add_record_parsers(commands: argparse._SubParsersAction[UsageParser]) -> None:
    record = commands.add_parser(
        "record", help="record the fleet's snapshots, events and actions to a file"
    )
    record.add_argument("file", metavar="FILE", type=Path)
    record.add_argument(
        "--duration",
        metavar="D",
        help="stop after D (seconds, or with a unit: 90s, 15m, 1h); default: until Ctrl+C",
    )
    replay = commands.add_parser("replay", help="replay a recording in the TUI, or print it")
    replay.add_argument("file", metavar="FILE", type=Path)
    replay.add_argument(
        "--at",
        metavar="TIME",
        help="a moment of the recording: ISO 8601 (2026-11-29T16:40:03, local time unless "
        "it names a zone) or seconds from its start (90, 90.5)",
    )
    replay_commands = replay.add_subparsers(dest="replay_command", metavar="SUBCOMMAND")
    snapshot = replay_commands.add_parser("snapshot", help="print the fleet as it was at --at")
    snapshot.add_argument("--json", action="store_true", help="print the snapshot as JSON")


def add_logs_parser(commands: argparse._SubParsersAction[UsageParser]) -> None:
    logs = commands.add_parser(
        "logs",
        help="a Slurm job's output file, or (with -n/--context) a Kubernetes pod's log",
        description="JOBID: the job's StdOut file (from scontrol show job), read over SSH on "
        "the cluster's host or the job's batch node. POD with -n NAMESPACE --context NAME: "
        "the pod's log through the API server. Lines are cleaned of terminal controls.",
    )
    logs.add_argument("target", metavar="JOBID|POD")
    logs.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="keep printing new lines until the job or pod ends (or Ctrl+C)",
    )
    logs.add_argument(
        "--lines",
        type=int,
        default=100,
        metavar="N",
        help="how many of the last lines to print first (default 100)",
    )
    logs.add_argument(
        "--stderr", action="store_true", help="Slurm: the job's StdErr file instead of StdOut"
    )
    logs.add_argument("-n", "--namespace", help="Kubernetes: the pod's namespace")
    logs.add_argument("-c", "--container", help="Kubernetes: the container (default: the only one)")
