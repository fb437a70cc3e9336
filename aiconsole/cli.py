"""Command line: ``aiconsole`` (TUI), ``snapshot [--json]``, ``schema``, ``hosts check``,
``record``/``replay`` (aiconsole/cli_record.py), the actions, ...

Each command imports what it needs when it runs: the local ``snapshot --json`` loads no SSH,
Slurm, Kubernetes, Prometheus or Textual code (a test pins it), and start-up stays short.

Exit codes of ``snapshot`` and ``hosts check``: 0 every host ok; 2 output printed but some host
is not ok; 1 an error (one line on stderr, nothing else printed); 64 a usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import msgspec

from aiconsole.cli_options import EXIT_USAGE
from aiconsole.cli_parsers import build_parser
from aiconsole.cli_text import format_checks, format_text
from aiconsole.config import ConfigError, Inventory, config_path, load
from aiconsole.nodeset import NodeSetError

if TYPE_CHECKING:
    from aiconsole.actions.audit import AuditLog
    from aiconsole.actions.policy import Policy
    from aiconsole.collectors.slurm import SlurmCollector
    from aiconsole.collectors.ssh import HostCheck  # imports asyncssh: only when checking
    from aiconsole.fleet import Fleet
    from aiconsole.prometheus.settings import PrometheusSettings

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DEGRADED = 2


class UsageError(ValueError):
    """A bad option value found after parsing; printed as one line, exit 64."""


# Commands that need no fleet: command -> (module, function(args, inventory) -> exit code),
# imported only when that command runs.
NO_FLEET_COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("aiconsole.cli_actions", "run_audit_command"),
    "ack": ("aiconsole.cli_health", "run_ack"),
    "silence": ("aiconsole.cli_health", "run_silence"),
    "diagnose": ("aiconsole.cli_diagnose", "run_diagnose"),
    "rebalance": ("aiconsole.cli_rebalance", "run_rebalance"),
    "logs": ("aiconsole.cli_logs", "run_logs"),
    **{
        action: ("aiconsole.cli_actions", "run_action")
        for action in (
            "drain",
            "resume",
            "undrain",
            "requeue",
            "release",
            "cordon",
            "uncordon",
            "restart",
        )
    },
}


def command_runner(command: str) -> Callable[[argparse.Namespace, Inventory], int]:
    module, function = NO_FLEET_COMMANDS[command]
    runner: Callable[[argparse.Namespace, Inventory], int] = getattr(
        importlib.import_module(module), function
    )
    return runner


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`aiconsole schema | head`): not an error of ours. Point
        # stdout at /dev/null so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


OPTIONAL_BACKENDS = {
    "kubernetes": "Kubernetes needs the official client: pip install 'aiconsole[kubernetes]'",
    "aiohttp": "Kubernetes needs the official client: pip install 'aiconsole[kubernetes]'",
    "prometheus_client": "serve needs prometheus_client: pip install 'aiconsole[prometheus]'",
}
"""Optional back-ends, imported only when configured: a missing one is a one-line hint."""


def _main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_command(args)
    except KeyboardInterrupt:
        return 130
    except UsageError as error:
        print(f"aiconsole: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        raise  # handled in main(): the reader of our output went away
    except ModuleNotFoundError as error:
        extra = OPTIONAL_BACKENDS.get((error.name or "").partition(".")[0])
        if extra is None:
            raise
        print(f"aiconsole: error: {extra}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:
        if expected(error):
            print(f"aiconsole: error: {error}", file=sys.stderr)
        else:
            print(f"aiconsole: error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_ERROR


def expected(error: Exception) -> bool:
    """A failure whose message says it all (bad config, invalid name, refused policy).

    Their classes live in modules a command may not have loaded: only those already
    imported can have raised, so nothing is imported here to ask.
    """
    if isinstance(error, ConfigError | NodeSetError):
        return True
    names = {
        "aiconsole.slurm.commands": "InvalidArgument",
        "aiconsole.actions.policy": "SitePolicyError",
        "aiconsole.actions.mutes": "MuteError",
        "aiconsole.kubernetes.names": "InvalidName",
        "aiconsole.cli_logs": "LogTargetError",
    }
    return any(
        isinstance(error, getattr(sys.modules[module], name))
        for module, name in names.items()
        if module in sys.modules
    )


def run_command(args: argparse.Namespace) -> int:
    if args.command == "schema":
        from aiconsole.model import health_schema, json_schema

        print(json.dumps(health_schema() if args.health else json_schema(), indent=2))
        return EXIT_OK
    if args.command == "replay":
        from aiconsole.cli_record import run_replay

        return run_replay(args)
    inventory = load_inventory(args)
    if args.command in NO_FLEET_COMMANDS:
        return command_runner(args.command)(args, inventory)
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
        from aiconsole.cli_actions import audit_log, policy_from

        if args.command == "record":
            from aiconsole.cli_record import run_record

            return run_record(args, fleet, audit_log(inventory))

        return run_tui(
            fleet,
            policy_from(args, inventory),
            audit_log(inventory),
            inventory.history_window,
            args.theme,
            inventory.theme,
        )
    finally:
        fleet.close()


def build_fleet(args: argparse.Namespace, inventory: Inventory) -> Fleet:
    from aiconsole.fleet import live_ssh_detail, local_fleet, prometheus_fleet, ssh_fleet
    from aiconsole.health.monitor import HealthMonitor

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
    if args.context or inventory.kubernetes.contexts:
        from aiconsole.cli_kube import kube_collectors

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
    from aiconsole.prometheus.settings import PrometheusSettings, check_url

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
    if not wanted:
        return []
    # Only a command that watches a cluster pays for the Slurm code (and asyncssh).
    from aiconsole.collectors.slurm import SlurmCollector
    from aiconsole.slurm.runner import runner_for

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


def run_health(fleet: Fleet, inventory: Inventory, *, as_json: bool, window: float) -> int:
    from aiconsole.actions.mutes import load as load_mutes
    from aiconsole.actions.mutes import store_path
    from aiconsole.cli_actions import audit_log
    from aiconsole.health.report import health_report, render_text

    report = health_report(
        fleet.collect_once(window), inventory.health, load_mutes(store_path(audit_log(inventory)))
    )
    if as_json:
        sys.stdout.buffer.write(msgspec.json.encode(report) + b"\n")
    else:
        print(render_text(report))
    sys.stdout.flush()
    return report.exit_code


def run_snapshot(fleet: Fleet, *, as_json: bool, window: float) -> int:
    from aiconsole.health import judge

    snapshot = fleet.collect_once(window)
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

    import asyncio

    results = asyncio.run(check_all())
    print(format_checks(results))
    return EXIT_OK if all(r.status == "ok" for r in results) else EXIT_DEGRADED


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
    import asyncio

    asyncio.run(serve(fleet, address, interval))
    return EXIT_OK


def run_tui(
    fleet: Fleet,
    policy: Policy,
    audit: AuditLog,
    history_window: float,
    theme: str | None = None,
    configured_theme: str | None = None,
) -> int:
    from aiconsole.themes import UnknownTheme, tui_theme

    try:
        first_theme, keeper = tui_theme(theme, configured_theme)
    except UnknownTheme as error:
        raise UsageError(f"--theme: {error}") from None
    from aiconsole.app import ConsoleApp  # deferred: only the TUI needs Textual

    intervals = [c.interval for c in fleet.collectors] + [f.interval for f in fleet.feeds]
    interval = intervals[0] if intervals else 1.0
    app = ConsoleApp(
        fleet,
        refresh_interval=interval,
        policy=policy,
        audit=audit,
        history_window=history_window,
    )
    app.use_theme(first_theme, keeper)
    app.run()
    return EXIT_OK
