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
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from aiconsole import __version__, units
from aiconsole.actions.audit import AuditLog
from aiconsole.actions.mutes import MuteError
from aiconsole.actions.policy import Policy, SitePolicyError
from aiconsole.cli_actions import (
    ACTIONS,
    add_action_parsers,
    audit_log,
    policy_from,
    run_action,
    run_audit,
)
from aiconsole.cli_diagnose import add_diagnose_parser, run_diagnose
from aiconsole.cli_health import add_health_parsers, run_ack, run_silence
from aiconsole.cli_kube import format_kubernetes, kube_collectors
from aiconsole.cli_record import add_record_parsers, run_record, run_replay
from aiconsole.collectors.slurm import SlurmCollector
from aiconsole.config import ConfigError, Inventory, config_path, load
from aiconsole.fleet import Fleet, live_ssh_detail, local_fleet, prometheus_fleet, ssh_fleet
from aiconsole.health.monitor import HealthMonitor
from aiconsole.kubernetes.names import InvalidName
from aiconsole.model import FleetSnapshot, health_schema, json_schema
from aiconsole.nodeset import NodeSetError
from aiconsole.prometheus.settings import PrometheusSettings, check_url
from aiconsole.slurm.commands import InvalidArgument
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
    parser.add_argument(
        "--context",
        action="append",
        metavar="NAME",
        help="a Kubernetes cluster: a kubeconfig context (repeatable; 'all' for every one)",
    )
    parser.add_argument(
        "--prometheus",
        metavar="URL",
        help="read the fleet from this Prometheus server (dcgm-exporter, node_exporter and up "
        "series); the config's [prometheus] table adds credentials",
    )
    parser.add_argument("--read-only", action="store_true", help="see everything, act on nothing")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    snapshot = commands.add_parser("snapshot", help="collect once, print, exit")
    snapshot.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    snapshot.add_argument(
        "--context", dest="context_after", action="append", metavar="NAME", help="as above"
    )
    snapshot.add_argument(
        "--window",
        type=float,
        default=0.25,
        metavar="S",
        help="take two samples S seconds apart so rates (CPU %%, bytes/s) are filled in; "
        "0 takes one sample and reports rates as unavailable (default 0.25)",
    )
    health = commands.add_parser(
        "health",
        help="collect once, judge, print findings; exit 0 ok, 1 warning, 2 critical, "
        "3 nothing could be judged",
    )
    health.add_argument("--json", action="store_true", help="print the findings as JSON")
    health.add_argument(
        "--window", type=float, default=0.25, metavar="S", help="as for snapshot (default 0.25)"
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`aiconsole schema | head`): not an error of ours. Point
        # stdout at /dev/null so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "schema":
            print(json.dumps(health_schema() if args.health else json_schema(), indent=2))
            return EXIT_OK
        if args.command == "replay":
            return run_replay(args)
        inventory = load_inventory(args)
        if args.command == "audit":
            return run_audit(inventory, args.incident)
        if args.command == "ack":
            return run_ack(args, inventory)
        if args.command == "silence":
            return run_silence(args, inventory)
        if args.command in ACTIONS:
            return run_action(args, inventory)
        if args.command == "diagnose":
            return run_diagnose(args, inventory)
        fleet = build_fleet(args, inventory)
        try:
            if args.command == "snapshot":
                return run_snapshot(fleet, as_json=args.json, window=args.window)
            if args.command == "health":
                return run_health(fleet, inventory, as_json=args.json, window=args.window)
            if args.command == "hosts":
                return run_hosts_check(fleet)
            if args.command == "serve":
                return run_serve(fleet, args.listen or inventory.serve_listen, inventory)
            if args.command == "record":
                return run_record(args, fleet, audit_log(inventory))
            return run_tui(fleet, policy_from(args, inventory), audit_log(inventory))
        finally:
            fleet.close()
    except KeyboardInterrupt:
        return 130
    except (
        UsageError,
        ConfigError,
        NodeSetError,
        InvalidArgument,
        SitePolicyError,
        MuteError,
        InvalidName,
    ) as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        raise  # handled in main(): the reader of our output went away
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
    prometheus = prometheus_settings(args, inventory)
    if prometheus is not None and args.command != "hosts":
        fleet = prometheus_fleet(prometheus, interval=max(settings.interval, 2.0))
        if hosts:  # reachable over SSH too: opening one of them streams it live
            fleet.live_detail = live_ssh_detail(fleet, hosts, settings)
    elif not hosts:
        if args.command == "hosts":
            raise UsageError("no hosts: give --hosts NODESET or an inventory with hosts")
        fleet = local_fleet(interval=settings.interval)
    else:
        fleet = ssh_fleet(hosts, settings)
        fleet.group_of = inventory.group_of(hosts)
    fleet.clusters = slurm_collectors(args, inventory, fleet)
    fleet.kube = kube_collectors(args, inventory, fleet.store)
    fleet.health = HealthMonitor(inventory.health)
    fleet.diagnose = inventory.diagnose
    fleet.ssh_config = settings.ssh_config
    if inventory.alerts:
        from aiconsole.alerts.pusher import AlertPusher

        fleet.alerts = AlertPusher(
            alertmanager=inventory.alerts.get("alertmanager"),
            webhook=inventory.alerts.get("webhook"),
        )
        fleet.health.sink = fleet.alerts
    return fleet


def prometheus_settings(
    args: argparse.Namespace, inventory: Inventory
) -> PrometheusSettings | None:
    if not args.prometheus:
        return inventory.prometheus
    try:
        url = check_url(args.prometheus)
    except ValueError as error:
        raise UsageError(f"--prometheus: {error}") from None
    if inventory.prometheus is not None:
        return dataclasses.replace(inventory.prometheus, url=url)
    return PrometheusSettings(url=url)


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


def collect_once(fleet: Fleet, window: float) -> FleetSnapshot:
    async def collect() -> FleetSnapshot:
        try:
            return await fleet.snapshot_once(window)
        finally:
            for cluster in fleet.clusters:
                cluster.close()  # inside the loop its connections belong to
            await fleet.aclose_kube()

    return asyncio.run(collect())


def run_health(fleet: Fleet, inventory: Inventory, *, as_json: bool, window: float) -> int:
    from aiconsole.actions.mutes import load as load_mutes
    from aiconsole.actions.mutes import store_path
    from aiconsole.health.report import health_report, render_text

    report = health_report(
        collect_once(fleet, window), inventory.health, load_mutes(store_path(audit_log(inventory)))
    )
    if as_json:
        sys.stdout.buffer.write(msgspec.json.encode(report) + b"\n")
    else:
        print(render_text(report))
    sys.stdout.flush()
    return report.exit_code


def run_snapshot(fleet: Fleet, *, as_json: bool, window: float) -> int:
    from aiconsole.health import judge

    snapshot = collect_once(fleet, window)
    snapshot = msgspec.structs.replace(snapshot, findings=judge(snapshot))
    if as_json:
        sys.stdout.buffer.write(msgspec.json.encode(snapshot) + b"\n")
    else:
        print(format_text(snapshot))
    sys.stdout.flush()
    healthy = (
        all(host.status == "ok" for host in snapshot.hosts)
        and all(cluster.status == "ok" for cluster in snapshot.clusters)
        and all(cluster.status == "ok" for cluster in snapshot.kubernetes)
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
            f"{units.NA if s.gpu_count is None else s.gpu_count:>4} "
            f"{units.percent(s.gpu_util_mean):>5} {shown(s.reason)}".rstrip()
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
    lines.extend(format_kubernetes(snapshot))
    return "\n".join(lines)


def shown(value: str | None) -> str:
    """Text from elsewhere, safe to print to a terminal (no escape sequence gets through)."""
    return clean(value, MAX_REASON) if value else ""


def run_hosts_check(fleet: Fleet) -> int:
    from aiconsole.collectors.base import one_line
    from aiconsole.collectors.ssh import HostCheck, SshCollector

    async def check_all() -> list[HostCheck]:
        collectors = [c for c in fleet.collectors if isinstance(c, SshCollector)]
        # One host's failure is its own row, never the loss of the whole report.
        results = await asyncio.gather(*(c.check() for c in collectors), return_exceptions=True)
        return [
            r if isinstance(r, HostCheck) else HostCheck(c.name, "probe_error", one_line(r))
            for c, r in zip(collectors, results, strict=True)
        ]

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


def run_serve(fleet: Fleet, listen: str | None, inventory: Inventory) -> int:
    from aiconsole.prometheus.settings import DEFAULT_LISTEN, parse_listen

    try:
        address = parse_listen(listen or DEFAULT_LISTEN)
    except ValueError as error:
        raise UsageError(f"--listen: {error}") from None
    # Deferred: prometheus_client is optional and only this command needs it.
    from aiconsole.exporter.serve import serve

    intervals = [c.interval for c in fleet.collectors] + [f.interval for f in fleet.feeds]
    interval = intervals[0] if intervals else inventory.settings.interval
    asyncio.run(serve(fleet, address, interval))
    return EXIT_OK


def run_tui(fleet: Fleet, policy: Policy, audit: AuditLog) -> int:
    from aiconsole.app import ConsoleApp  # deferred: only the TUI needs Textual

    intervals = [c.interval for c in fleet.collectors] + [f.interval for f in fleet.feeds]
    interval = intervals[0] if intervals else 1.0
    ConsoleApp(fleet, refresh_interval=interval, policy=policy, audit=audit).run()
    return EXIT_OK
