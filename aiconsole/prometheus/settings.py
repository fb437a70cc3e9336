"""The ``[prometheus]`` and ``[serve]`` config tables, validated into plain settings.

    [serve]
    listen = "127.0.0.1:9400"        # where `aiconsole serve` listens

    [prometheus]
    url = "https://prometheus.example:9090"
    bearer_token_file = "~/.config/aiconsole/prometheus.token"   # or:
    username = "aiconsole"
    password_file = "~/.config/aiconsole/prometheus.password"
    ca_file = "/etc/ssl/internal-ca.pem"   # extra CA to trust; verification stays on
    timeout = 10.0                          # seconds per query
    compression = "auto"                    # gzip answers, except from a loopback address

Secrets live in files, never in the config itself, so the config can be shared and
committed; the files are read when the source starts.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_LISTEN = "127.0.0.1:9400"

Fail = Callable[[str | None, str, str], Exception]


@dataclass(frozen=True)
class PrometheusSettings:
    url: str
    bearer_token_file: str | None = None
    username: str | None = None
    password_file: str | None = None
    ca_file: str | None = None
    timeout: float = 10.0
    compression: str = "auto"
    """``gzip``: ask for gzipped answers; ``none``: plain; ``auto``: gzip unless the server is
    on a loopback address, where compressing costs both sides CPU and saves no wire time (a
    10,000-host fleet answer is ~8 MB of JSON per query: gzip took a third of the server's
    CPU per refresh, measured against Prometheus 2.42 on 127.0.0.1)."""

    def wants_gzip(self) -> bool:
        if self.compression != "auto":
            return self.compression == "gzip"
        host = urlsplit(self.url).hostname or ""
        if host == "localhost":
            return False
        try:
            return not ipaddress.ip_address(host).is_loopback
        except ValueError:
            return True  # a name: assume it is across a network


COMPRESSION = ("auto", "gzip", "none")


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) -> (host, port); ValueError says what is wrong."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\[\]]+):(\d+)", value.strip())
    if not match:
        raise ValueError(f"{value!r} is not HOST:PORT")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return host, port


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    if parts.username or parts.password:
        # It would show in every reason line; credentials belong in files.
        raise ValueError("credentials in the URL: use username and password_file instead")
    return url.rstrip("/")


def parse_serve(raw: Any, fail: Fail) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise fail(None, "serve", "must be a table")
    for key in raw:
        if key != "listen":
            raise fail("serve", key, "unknown key (expected listen)")
    listen = raw.get("listen")
    if listen is None:
        return None
    if not isinstance(listen, str):
        raise fail("serve", "listen", 'must be "HOST:PORT"')
    try:
        parse_listen(listen)
    except ValueError as error:
        raise fail("serve", "listen", str(error)) from None
    return listen


def parse_prometheus(raw: Any, fail: Fail) -> PrometheusSettings | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise fail(None, "prometheus", "must be a table")
    known = {
        "url",
        "bearer_token_file",
        "username",
        "password_file",
        "ca_file",
        "timeout",
        "compression",
    }
    for key in raw:
        if key not in known:
            raise fail("prometheus", key, f"unknown key (expected {', '.join(sorted(known))})")
    if not isinstance(raw.get("url"), str):
        raise fail("prometheus", "url", "must be the server's http(s):// URL")
    try:
        url = check_url(raw["url"])
    except ValueError as error:
        raise fail("prometheus", "url", str(error)) from None
    paths: dict[str, str | None] = {}
    for key in ("bearer_token_file", "password_file", "ca_file"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise fail("prometheus", key, "must be a path")
        paths[key] = None if value is None else str(Path(value).expanduser())
    username = raw.get("username")
    if username is not None and not isinstance(username, str):
        raise fail("prometheus", "username", "must be a string")
    if (username is None) != (paths["password_file"] is None):
        raise fail("prometheus", "username", "username and password_file go together")
    if paths["bearer_token_file"] and username:
        raise fail("prometheus", "bearer_token_file", "use a bearer token or basic auth, not both")
    timeout = raw.get("timeout", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise fail("prometheus", "timeout", "must be a positive number of seconds")
    compression = raw.get("compression", "auto")
    if compression not in COMPRESSION:
        raise fail("prometheus", "compression", 'must be "auto", "gzip" or "none"')
    return PrometheusSettings(
        url=url,
        bearer_token_file=paths["bearer_token_file"],
        username=username,
        password_file=paths["password_file"],
        ca_file=paths["ca_file"],
        timeout=float(timeout),
        compression=compression,
    )
