"""The inventory and settings, loaded and validated once.

``~/.config/aiconsole/config.toml`` (or ``--config PATH``, or ``$AICONSOLE_CONFIG``)::

    hosts = "gpu[01-64],login01"        # node sets; optional when groups name every host

    [settings]
    interval = 1.0                      # seconds between samples
    connect_timeout = 5.0               # per host
    python = "python3"                  # interpreter that runs the probe on hosts
    host_key_policy = "strict"          # unknown or changed host keys are refused;
                                        # "accept-new" records unknown keys (never changed ones)
    max_handshakes = 32                 # SSH handshakes in flight at once
    reconnect_max = 30.0                # longest wait between reconnect attempts
    ssh_config = "~/.ssh/config"        # OpenSSH client config to honour

    [ui]
    theme = "nord"                      # a Textual theme (aiconsole/themes.py)

    [groups]
    gpu = "gpu[01-64]"
    login = ["login01", "login02"]

An error names the file, the line and the key. Passwords have no place here: SSH uses keys,
the agent and ~/.ssh/config.
"""

from __future__ import annotations

import functools
import math
import os
import re
import shlex
import sys
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from aiconsole.health.thresholds import ThresholdError, Thresholds
from aiconsole.history.settings import parse_history
from aiconsole.history.store import DEFAULT_WINDOW_S
from aiconsole.kubernetes.settings import KubeSettings, parse_kubernetes
from aiconsole.nodeset import NodeSetError, expand
from aiconsole.prometheus.settings import PrometheusSettings, parse_prometheus, parse_serve
from aiconsole.text import is_clean
from aiconsole.themes import parse_ui

DEFAULT_PATH = Path("~/.config/aiconsole/config.toml")
HOST_KEY_POLICIES = ("strict", "accept-new")
"""Host keys are checked against known_hosts; an unknown or changed key is refused."""


class ConfigError(ValueError):
    """A configuration problem, as one line: file, line, key, what is wrong."""


@dataclass(frozen=True)
class Settings:
    interval: float = 1.0
    connect_timeout: float = 5.0
    python: str = "python3"
    host_key_policy: str = "strict"
    max_handshakes: int = 32
    reconnect_max: float = 30.0
    """Longest wait between reconnect attempts (backoff doubles up to this, with jitter)."""
    ssh_config: str | None = None
    """None: asyncssh's default (~/.ssh/config when it exists)."""
    role: str = "operator"
    """``viewer`` sees everything and can act on nothing; ``operator`` can act."""
    audit_log: str | None = None
    """None: $XDG_STATE_HOME/aiconsole/audit.jsonl (~/.local/state/...)."""
    max_out_of_service: float = 0.25
    """Largest share of a partition's nodes one action may take out (more needs --force)."""
    slurm_timeout: float = 5.0
    """Deadline for one Slurm command (a dead slurmctld makes its clients wait ~9 s)."""


ROLES = ("viewer", "operator")


@dataclass(frozen=True)
class Inventory:
    hosts: tuple[str, ...] = ()
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    settings: Settings = field(default_factory=Settings)
    source: Path | None = None
    clusters: dict[str, str] = field(default_factory=dict)
    """Slurm cluster name -> where its commands run: ``local`` or an SSH host."""
    health: Thresholds = field(default_factory=Thresholds)
    """The ``[health]`` table: thresholds of the health rules."""
    alerts: dict[str, str] = field(default_factory=dict)
    """The ``[alerts]`` table: ``alertmanager`` and/or ``webhook`` URLs."""
    diagnose: tuple[str, ...] = ("dcgmi", "diag", "-r", "1", "-j")
    """``[health] diagnose``: the command ``aiconsole diagnose`` runs on a host."""
    kubernetes: KubeSettings = field(default_factory=KubeSettings)
    """The ``[kubernetes]`` table: contexts to watch and their settings."""
    prometheus: PrometheusSettings | None = None
    """``[prometheus]``: a Prometheus server to read the fleet from."""
    serve_listen: str | None = None
    """``[serve] listen``: where ``aiconsole serve`` listens (HOST:PORT)."""
    history_window: float = DEFAULT_WINDOW_S
    """``[history] window``: seconds of history the console keeps per host and GPU."""
    theme: str | None = None
    """``[ui] theme``: the console's colour theme (aiconsole/themes.py)."""

    def group_of(self, hosts: Sequence[str]) -> dict[str, str]:
        """Each host's first group in inventory order (a host may sit in several)."""
        found: dict[str, str] = {}
        for group, members in self.groups.items():
            for host in members:
                found.setdefault(host, group)
        return {host: found[host] for host in hosts if host in found}

    def select(self, nodeset: str) -> list[str]:
        """Expand a node set against this inventory's groups."""
        return expand(nodeset, self._group)

    def _group(self, name: str) -> tuple[str, ...]:
        if name not in self.groups:
            known = ", ".join(sorted(self.groups)) or "none defined"
            raise NodeSetError(f"unknown group @{name} (groups: {known})")
        return self.groups[name]


def config_path(explicit: str | None) -> Path | None:
    """The file to load: --config, then $AICONSOLE_CONFIG, then the default if it exists."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get("AICONSOLE_CONFIG")
    if from_env:
        return Path(from_env).expanduser()
    default = DEFAULT_PATH.expanduser()
    return default if default.exists() else None


def load(path: Path) -> Inventory:
    try:
        text = path.read_text(encoding="utf-8")  # TOML is UTF-8, whatever the locale says
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start + 1})") from None
    # Imported here: the commands run with no configuration file never pay for the parser.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {_one_line(str(error))}") from None
    return parse(data, text, path)


def parse(data: dict[str, Any], text: str, path: Path) -> Inventory:
    def fail(table: str | None, key: str, problem: str) -> ConfigError:
        where = f"{path}:{_line_of(text, table, key)}"
        dotted = f"{table}.{_key(key)}" if table else _key(key)
        return ConfigError(f"{where}: {dotted}: {_one_line(problem)}")

    unknown = set(data) - {
        "hosts",
        "settings",
        "groups",
        "clusters",
        "health",
        "alerts",
        "kubernetes",
        "prometheus",
        "serve",
        "history",
        "ui",
    }
    if unknown:
        key = sorted(unknown)[0]
        raise fail(
            None,
            key,
            "unknown key (expected hosts, [settings], [groups], [clusters], [kubernetes], "
            "[health], [alerts], [prometheus], [serve], [history], [ui])",
        )
    kubernetes = parse_kubernetes(
        data.get("kubernetes", {}), lambda key, problem: fail("kubernetes", key, problem)
    )
    prometheus = parse_prometheus(data.get("prometheus"), fail)
    serve_listen = parse_serve(data.get("serve"), fail)
    history_window = parse_history(data.get("history"), fail)
    theme = parse_ui(data.get("ui"), fail)
    raw_clusters = data.get("clusters", {})
    if not isinstance(raw_clusters, dict):
        raise fail(None, "clusters", 'must be a table of name = "local" or an SSH host')
    clusters: dict[str, str] = {}
    for name, where in raw_clusters.items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise fail("clusters", name, "cluster names are letters, digits, '.', '-' and '_'")
        if not isinstance(where, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]*", where):
            raise fail("clusters", name, 'must be "local" or an SSH host name')
        clusters[name] = where

    settings = _settings(data.get("settings", {}), fail)
    raw_groups = data.get("groups", {})
    if not isinstance(raw_groups, dict):
        raise fail(None, "groups", "must be a table of name = node set")
    groups: dict[str, tuple[str, ...]] = {}
    for name, value in raw_groups.items():
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise fail("groups", name, "group names are letters, digits, '-' and '_'")
        groups[name] = tuple(_nodes(value, lambda p, n=name: fail("groups", n, p), groups))

    hosts: dict[str, None] = {}
    if "hosts" in data:
        for host in _nodes(data["hosts"], lambda p: fail(None, "hosts", p), groups):
            hosts[host] = None
    for members in groups.values():
        hosts.update(dict.fromkeys(members))
    raw_health = data.get("health", {})
    if not isinstance(raw_health, dict):
        raise fail(None, "health", "must be a table of threshold = number")
    raw_health = dict(raw_health)
    diagnose = _diagnose(raw_health.pop("diagnose", None), fail)
    try:
        health = Thresholds.from_table(raw_health)
    except ThresholdError as error:
        raise ConfigError(f"{path}: {error}") from None
    alerts = _alerts(data.get("alerts", {}), fail)
    return Inventory(
        hosts=tuple(hosts),
        groups=groups,
        settings=settings,
        source=path,
        clusters=clusters,
        health=health,
        alerts=alerts,
        diagnose=diagnose,
        kubernetes=kubernetes,
        prometheus=prometheus,
        serve_listen=serve_listen,
        history_window=history_window,
        theme=theme,
    )


def _diagnose(raw: Any, fail: Any) -> tuple[str, ...]:
    if raw is None:
        return Inventory.diagnose
    try:
        argv = tuple(shlex.split(raw)) if isinstance(raw, str) else ()
    except ValueError:
        argv = ()
    if not argv or any(not is_clean(word) for word in argv):
        raise fail("health", "diagnose", 'must be a command line, e.g. "dcgmi diag -r 1 -j"')
    return argv


def _alerts(raw: Any, fail: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise fail(None, "alerts", "must be a table: alertmanager = URL, webhook = URL")
    alerts: dict[str, str] = {}
    for key, value in raw.items():
        if key not in ("alertmanager", "webhook"):
            raise fail("alerts", key, "unknown key (expected alertmanager, webhook)")
        url = urllib.parse.urlsplit(value) if isinstance(value, str) else None
        if url is None or url.scheme not in ("http", "https") or not url.hostname:
            raise fail("alerts", key, "must be an http:// or https:// URL")
        alerts[key] = value
    return alerts


def _nodes(value: Any, fail: Any, groups: dict[str, tuple[str, ...]]) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail("must be a node set string or a list of them")
    names: list[str] = []
    for item in value:
        try:
            names.extend(expand(item, lambda g: groups[g] if g in groups else _missing(g)))
        except NodeSetError as error:
            raise fail(str(error)) from None
    return names


def _missing(group: str) -> tuple[str, ...]:
    raise NodeSetError(f"unknown group @{group} (define it above its first use)")


_SETTINGS = {setting.name: setting for setting in fields(Settings)}
_PATHS = ("ssh_config", "audit_log")
_POSITIVE = ("interval", "connect_timeout", "reconnect_max", "slurm_timeout")


def _settings(raw: Any, fail: Any) -> Settings:
    if not isinstance(raw, dict):
        raise fail(None, "settings", "must be a table")
    defaults = Settings()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        # The dataclass's fields, not hasattr(): "__dict__" or "__class__" are no settings.
        if key not in _SETTINGS:
            raise fail("settings", key, "unknown setting")
        expected = type(getattr(defaults, key))
        if key in _PATHS:
            values[key] = _path(value, functools.partial(fail, "settings", key))
            continue
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif not isinstance(value, expected) or isinstance(value, bool):
            raise fail("settings", key, f"must be a {expected.__name__}, not {_shown(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise fail("settings", key, f"must be a finite number, not {value}")
        if isinstance(value, str) and (not value or not value.isprintable()):
            raise fail("settings", key, "must be a non-empty string of printable characters")
        values[key] = value
    settings = Settings(**values)
    for key in _POSITIVE:
        if getattr(settings, key) <= 0:
            raise fail("settings", key, "must be positive")
    if settings.max_handshakes < 1:
        raise fail("settings", "max_handshakes", "must be at least 1")
    if settings.role not in ROLES:
        raise fail("settings", "role", f"must be one of {', '.join(ROLES)}")
    if not 0 < settings.max_out_of_service <= 1:
        raise fail("settings", "max_out_of_service", "must be a share in (0, 1]")
    if settings.host_key_policy not in HOST_KEY_POLICIES:
        raise fail("settings", "host_key_policy", f"must be one of {', '.join(HOST_KEY_POLICIES)}")
    return settings


def _path(value: Any, fail: Callable[[str], ConfigError]) -> str:
    if not isinstance(value, str) or not value or "\0" in value:
        raise fail("must be a path (a non-empty string)")
    try:
        return str(Path(value).expanduser())
    except RuntimeError:  # ~someone for a user this machine does not know
        raise fail(f"cannot expand {_shown(value)}: no such user") from None


def _key(key: str) -> str:
    """A key as the message shows it: plain keys as they are, others quoted on one line."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _shown(key)


def _shown(value: Any, limit: int = 60) -> str:
    shown = repr(value)  # repr escapes newlines and other controls: one line
    return shown if len(shown) <= limit else shown[: limit - 1] + "\u2026"


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


def _line_of(text: str, table: str | None, key: str) -> int:
    """Line number of ``key`` inside ``[table]`` (or the top level), for error messages."""
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.fullmatch(r"\[([^\[\]]+)\]", stripped)
        if header:
            current = header.group(1).strip()
            continue
        if current == table and re.match(rf"""["']?{re.escape(key)}["']?\s*=""", stripped):
            return number
    return 1
