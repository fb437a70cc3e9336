"""Command line: ``aiconsole`` (TUI), ``snapshot [--json]``, ``schema``, ``hosts check``,
``record`` and ``replay`` (aiconsole/cli_record.py).

Only the TUI path imports Textual; the other commands stay headless and fast.

Exit codes of ``snapshot`` and ``hosts check``: 0 every host ok; 2 output printed but some host
is not ok; 1 an error (one line on stderr, nothing else printed).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from aiconsole import __version__, units
from aiconsole.actions.audit import AuditLog
from aiconsole.actions.policy import Policy
from aiconsole.cli_actions import (
    ACTIONS,
    add_action_parsers,
    audit_log,
    policy_from,
    run_action,
    run_audit,
)
from aiconsole.cli_record import add_record_parsers, run_record, run_replay
from aiconsole.collectors.slurm import SlurmCollector
from aiconsole.config import ConfigError, Inventory, config_path, load
from aiconsole.fleet import Fleet, local_fleet, ssh_fleet
from aiconsole.model import FleetSnapshot, json_schema
from aiconsole.nodeset import NodeSetError
from aiconsole.slurm.runner import runner_for
from aiconsole.summary import summarize
from aiconsole.text import MAX_REASON, clean

if TYPE_CHECKING:
    from aiconsole.collectors.ssh import HostCheck  # imports asyncssh: only when checking

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DEGRADED = 2


class UsageError(ValueError):
    """A bad option value; printed as one line."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiconsole",
        description="Live console for GPU hosts. With no command: open the TUI. With no "
        "configuration and no --hosts: this machine.",
    )
    parser.add_argument("--version", action="version", version=f"aiconsole {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="inventory file (default: $AICONSOLE_CONFIG, else ~/.config/aiconsole/config.toml)",
    )
    parser.add_argument(
        "--hosts",
        metavar="NODESET",
        help="hosts to watch over SSH, e.g. 'gpu[01-32],login1' or '@group!gpu07'",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        metavar="S",
        help="seconds between samples and refreshes (default 1, or the config's)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="SSH connect timeout per host (default 5, or the config's)",
    )
    parser.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="record the key of a host not yet in known_hosts (as ssh's accept-new); "
        "a changed key is still refused",
    )
    parser.add_argument(
        "--slurm",
        metavar="HOST",
        help="a Slurm cluster whose commands run over SSH on HOST (or 'local': here)",
    )
    parser.add_argument("--cluster", metavar="NAME", help="a Slurm cluster from the config")
    parser.add_argument("--read-only", action="store_true", help="see everything, act on nothing")
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
    commands.add_parser("schema", help="print the JSON Schema of `snapshot --json`")
    hosts = commands.add_parser("hosts", help="inventory tools")
    hosts_commands = hosts.add_subparsers(dest="hosts_command", metavar="SUBCOMMAND", required=True)
    hosts_commands.add_parser(
        "check", help="reachability, auth, round trip and probe version of every host"
    )
    add_action_parsers(commands)
    add_record_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "schema":
            print(json.dumps(json_schema(), indent=2))
            return EXIT_OK
        if args.command == "replay":
            return run_replay(args)
        inventory = load_inventory(args)
        if args.command == "audit":
            return run_audit(inventory)
        if args.command in ACTIONS:
            return run_action(args, inventory)
        fleet = build_fleet(args, inventory)
        try:
            if args.command == "snapshot":
                return run_snapshot(fleet, as_json=args.json, window=args.window)
            if args.command == "hosts":
                return run_hosts_check(fleet)
            if args.command == "record":
                return run_record(args, fleet, audit_log(inventory))
            return run_tui(fleet, policy_from(args, inventory), audit_log(inventory))
        finally:
            fleet.close()
    except KeyboardInterrupt:
        return 130
    except (UsageError, ConfigError, NodeSetError) as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:
        print(f"aiconsole: error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_ERROR


def build_fleet(args: argparse.Namespace, inventory: Inventory) -> Fleet:
    for option in ("interval", "timeout"):
        value = getattr(args, option)
        if value is not None and value <= 0:
            raise UsageError(f"--{option} must be positive")
    if getattr(args, "window", 0) < 0:
        raise UsageError("--window must be >= 0")
    settings = inventory.settings
    if args.interval is not None:
        settings = dataclasses.replace(settings, interval=args.interval)
    if args.timeout is not None:
        settings = dataclasses.replace(settings, connect_timeout=args.timeout)
    if args.accept_new_host_keys:
        settings = dataclasses.replace(settings, host_key_policy="accept-new")
    hosts = inventory.select(args.hosts) if args.hosts else list(inventory.hosts)
    if not hosts:
        if args.command == "hosts":
            raise UsageError("no hosts: give --hosts NODESET or an inventory with hosts")
        fleet = local_fleet(interval=settings.interval)
    else:
        fleet = ssh_fleet(hosts, settings)
        fleet.group_of = inventory.group_of(hosts)
    fleet.clusters = slurm_collectors(args, inventory, fleet)
    return fleet


def load_inventory(args: argparse.Namespace) -> Inventory:
    path = config_path(args.config)
    return load(path) if path is not None else Inventory()


def slurm_collectors(
    args: argparse.Namespace, inventory: Inventory, fleet: Fleet
) -> list[SlurmCollector]:
    settings = inventory.settings
    if args.slurm:
        wanted = {("local" if args.slurm == "local" else args.slurm): args.slurm}
    elif args.cluster:
        if args.cluster not in inventory.clusters:
            raise UsageError(f"no cluster {args.cluster!r} in the config")
        wanted = {args.cluster: inventory.clusters[args.cluster]}
    else:
        wanted = dict(inventory.clusters)
    return [
        SlurmCollector(
            name,
            runner_for(where, settings.ssh_config),
            fleet.store,
            interval=max(2.0, settings.interval),
            timeout=settings.slurm_timeout,
        )
        for name, where in wanted.items()
    ]


def run_snapshot(fleet: Fleet, *, as_json: bool, window: float) -> int:
    async def collect() -> FleetSnapshot:
        try:
            return await fleet.snapshot_once(window)
        finally:
            for cluster in fleet.clusters:
                cluster.close()  # inside the loop its connections belong to

    snapshot = asyncio.run(collect())
    if as_json:
        sys.stdout.buffer.write(msgspec.json.encode(snapshot) + b"\n")
    else:
        print(format_text(snapshot))
    sys.stdout.flush()
    healthy = all(host.status == "ok" for host in snapshot.hosts) and all(
        cluster.status == "ok" for cluster in snapshot.clusters
    )
    return EXIT_OK if healthy else EXIT_DEGRADED


def format_text(snapshot: FleetSnapshot) -> str:
    """The snapshot as a short table. Every name and reason passes through :func:`shown`: the
    table goes to a terminal, and these strings come from hosts, Slurm and the inventory."""
    header = (
        f"{'HOST':<20} {'STATUS':<12} {'CPU':>5} {'MEM':>13} {'GPUS':>4} {'UTIL':>5} {'REASON'}"
    )
    lines = [header]
    for state in snapshot.hosts:
        s = summarize(state)
        memory = (
            f"{units.bytes_short(s.memory_used_bytes)}/{units.bytes_short(s.memory_total_bytes)}"
        )
        lines.append(
            f"{shown(s.name):<20} {s.status:<12} {units.percent(s.cpu_percent):>5} {memory:>13} "
            f"{s.gpu_count:>4} {units.percent(s.gpu_util_mean):>5} {shown(s.reason)}".rstrip()
        )
    for cluster in snapshot.clusters:
        lines.append("")
        lines.append(
            f"Slurm {shown(cluster.name)}: {cluster.status}"
            + (f" ({shown(cluster.reason)})" if cluster.reason else "")
            + f", {len(cluster.nodes)} nodes, {len(cluster.jobs)} jobs"
        )
        for node in cluster.nodes:
            lines.append(
                f"  {shown(node.name):<18} {shown(node.summary):<12} GPUs {node.gpus_used or 0}/"
                f"{node.gpus_total or 0}  {shown(node.reason)}".rstrip()
            )
    return "\n".join(lines)


def shown(value: str | None) -> str:
    """Text from elsewhere, safe to print to a terminal (no escape sequence gets through)."""
    return clean(value, MAX_REASON) if value else ""


def run_hosts_check(fleet: Fleet) -> int:
    from aiconsole.collectors.ssh import SshCollector

    async def check_all() -> list[HostCheck]:
        return await asyncio.gather(
            *(c.check() for c in fleet.collectors if isinstance(c, SshCollector))
        )

    results = asyncio.run(check_all())
    print(format_checks(results))
    return EXIT_OK if all(r.status == "ok" for r in results) else EXIT_DEGRADED


def format_checks(results: Sequence[HostCheck]) -> str:
    """``hosts check`` as a table; a host's words (its name for itself, why it failed, what
    its SSH server said) pass through :func:`shown`."""
    lines = [
        f"{'HOST':<20} {'STATUS':<16} {'CONNECT':>8} {'RTT':>7} {'PROBE':<7} {'PYTHON':<8} "
        "HOSTNAME/REASON"
    ]
    for r in results:
        lines.append(
            f"{shown(r.name):<20} {r.status:<16} {units.number(r.connect_ms, 'ms'):>8} "
            f"{units.number(r.rtt_ms, 'ms'):>7} {shown(r.probe_version) or units.NA:<7} "
            f"{shown(r.python_version) or units.NA:<8} {shown(r.reason or r.hostname)}"
        )
    return "\n".join(lines)


def run_tui(fleet: Fleet, policy: Policy, audit: AuditLog) -> int:
    from aiconsole.app import ConsoleApp  # deferred: only the TUI needs Textual

    interval = fleet.collectors[0].interval if fleet.collectors else 1.0
    ConsoleApp(fleet, refresh_interval=interval, policy=policy, audit=audit).run()
    return EXIT_OK
