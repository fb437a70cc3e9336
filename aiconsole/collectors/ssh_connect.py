"""Opening one host's SSH connection the way ``ssh`` would, bounded fleet-wide.

- The TCP connection is made *before* a handshake slot is taken: a dead rack costs its hosts
  their connect timeouts but never holds the fleet-wide handshake bound while it does, so
  the other hosts' (re)connects go on.
- ``ProxyJump`` is followed hop by hop, each hop resolved through the ssh config like a host
  of its own (its stanza, its user, its known_hosts), and closed with the connection.
- Host keys are checked against the config's known_hosts files, with ssh's accept-new as an
  opt-in (:mod:`aiconsole.collectors.host_keys`).
- Agent forwarding is never asked for: the console needs no agent on a host.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from aiconsole.collectors.base import CollectionError, one_line
from aiconsole.collectors.host_keys import HostKeyPolicy
from aiconsole.collectors.ssh_options import (
    DEFAULT_KNOWN_HOSTS,
    HostOptions,
    KnownHostsCache,
    known_hosts_paths,
)
from aiconsole.text import clean

MAX_JUMPS = 8
"""Longest ProxyJump chain followed (a config can make one loop forever)."""


def classify_connect_error(name: str, error: BaseException, timeout: float) -> CollectionError:
    """Turn what asyncssh raised while connecting into a status and a one-line reason.

    Text from the far end (a disconnect message, a refusal's reason) is cleaned here, where
    it becomes the host's reason.
    """
    if isinstance(error, TimeoutError):
        return CollectionError("unreachable", f"connect timed out after {timeout:g} s")
    if isinstance(error, asyncssh.HostKeyNotVerifiable):
        return CollectionError(
            "host_key_refused",
            clean(
                f"host key of {name} refused ({error.reason}); find out why before connecting again"
            ),
        )
    if isinstance(error, asyncssh.PermissionDenied):
        return CollectionError(
            "auth_failed",
            clean(
                f"{name} refused our keys ({error.reason}); check ssh-agent, IdentityFile and "
                "the host's authorized_keys"
            ),
        )
    if isinstance(error, ConnectionRefusedError):
        return CollectionError("unreachable", "connection refused (sshd not running?)")
    if isinstance(error, OSError):
        return CollectionError("unreachable", clean(one_line(error)))
    if isinstance(error, asyncssh.Error):
        return CollectionError("unreachable", clean(f"ssh: {error.reason}"))
    return CollectionError("unreachable", clean(one_line(error)))


def parse_jump(hop: str) -> tuple[str | None, str, int | None]:
    """``[user@]host[:port]`` as ProxyJump writes a hop (``[v6addr]:port`` too)."""
    user, _, rest = hop.rpartition("@")
    host, port = rest, None
    if rest.startswith("["):
        inside, _, after = rest[1:].partition("]")
        host = inside
        if after.startswith(":") and after[1:].isdigit():
            port = int(after[1:])
    elif rest.count(":") == 1:
        name, _, digits = rest.partition(":")
        if digits.isdigit():
            host, port = name, int(digits)
    return user or None, host, port


@dataclass(frozen=True)
class ConnectTimings:
    """How long the parts of the last connect took (``hosts check`` shows them)."""

    tcp_ms: float | None
    """The TCP connect alone (SYN to SYN-ACK: one network round trip); None through a
    ProxyJump or ProxyCommand, where no TCP connection to the host is made here."""
    handshake_ms: float
    """Key exchange, host key check and authentication, once connected."""


async def tcp_connect(
    host: str, port: int, family: int, local_address: object, timeout: float
) -> tuple[socket.socket, float]:
    """A connected, non-blocking TCP socket to the first address of ``host`` that answers,
    and the seconds its connect took (name resolution not included)."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM), timeout
    )
    last: OSError | None = None
    for family_, kind, proto, _, address in infos:
        sock = socket.socket(family_, kind, proto)
        sock.setblocking(False)
        try:
            if isinstance(local_address, tuple) and local_address:
                sock.bind(local_address)  # ssh's BindAddress
            started = time.monotonic()
            await asyncio.wait_for(loop.sock_connect(sock, address), timeout)
        except BaseException as error:
            sock.close()
            if isinstance(error, OSError) and not isinstance(error, TimeoutError):
                last = error
                continue
            raise
        return sock, time.monotonic() - started
    raise last or OSError(f"no address for {host}")


class Connector:
    """Opens connections to one host (and its jump hosts) for a collector."""

    def __init__(
        self,
        name: str,
        *,
        ssh_config: str | None,
        connect_timeout: float,
        handshakes: asyncio.Semaphore,
        known_hosts: KnownHostsCache,
        accept_new_host_keys: bool,
    ) -> None:
        self.name = name
        self._ssh_config = ssh_config
        self._timeout = connect_timeout
        self._handshakes = handshakes
        self._known_hosts = known_hosts
        self._accept_new = accept_new_host_keys
        self._options: dict[tuple[str, str | None, int | None], HostOptions] = {}
        self.notice: str | None = None
        """Set by the last connect when it accepted a new host key."""
        self.timings: ConnectTimings | None = None
        """Of the last connect that succeeded (its last hop: the host itself)."""

    def _host_options(
        self, host: str, user: str | None = None, port: int | None = None
    ) -> HostOptions:
        key = (host, user, port)
        if key not in self._options:
            self._options[key] = HostOptions(host, self._ssh_config, username=user, port=port)
        return self._options[key]

    async def connect(self) -> asyncssh.SSHClientConnection:
        """One connection to the host, or :class:`CollectionError` saying why not."""
        self.notice = None
        return await self._open(self._host_options(self.name), via=None, depth=0)

    async def _open(
        self, host: HostOptions, via: asyncssh.SSHClientConnection | None, depth: int
    ) -> asyncssh.SSHClientConnection:
        options = await host.resolve()
        jump = options.tunnel if isinstance(options.tunnel, str) else None
        if jump and jump.lower() != "none" and via is None:
            if depth >= MAX_JUMPS:
                raise CollectionError(
                    "unreachable", f"ProxyJump chain of {host.name} longer than {MAX_JUMPS} hops"
                )
            via = await self._open_jumps(jump, depth + 1)
        try:
            return await self._handshake(host.name, options, via)
        except BaseException:
            if via is not None:
                via.close()
            raise

    async def _open_jumps(self, spec: str, depth: int) -> asyncssh.SSHClientConnection:
        """Connect through each hop of ``spec`` in turn; the last hop's connection."""
        via: asyncssh.SSHClientConnection | None = None
        for hop in spec.split(","):
            user, host, port = parse_jump(hop.strip())
            via = await self._open(self._host_options(host, user, port), via, depth)
        assert via is not None
        return via

    async def _handshake(
        self,
        name: str,
        options: asyncssh.SSHClientConnectionOptions,
        via: asyncssh.SSHClientConnection | None,
    ) -> asyncssh.SSHClientConnection:
        known = self._known_hosts.lookup(options.known_hosts)
        policy = HostKeyPolicy(
            known,
            self._accept_new,
            record_file(options.known_hosts),
            known_hosts_paths(options.known_hosts),
            name,
        )
        extra: dict[str, Any] = {}
        tcp_s: float | None = None
        try:
            if via is not None:
                extra["tunnel"] = via
            elif not options.proxy_command:
                family = options.family if isinstance(options.family, int) else 0
                extra["sock"], tcp_s = await tcp_connect(
                    options.host, options.port, family, options.local_addr, self._timeout
                )
            # Handshakes are CPU-bound on both ends: bound how many run at once, fleet-wide.
            async with self._handshakes:
                started = time.monotonic()
                connection = await self._bounded(
                    asyncssh.connect(
                        name,
                        options=options,
                        config=None,  # already evaluated into ``options``
                        known_hosts=known,
                        client_factory=lambda: policy,
                        connect_timeout=self._timeout,
                        **extra,
                    )
                )
                handshake_s = time.monotonic() - started
        except asyncssh.HostKeyNotVerifiable as error:
            if policy.refusal is not None:
                raise CollectionError("host_key_refused", clean(policy.refusal)) from None
            raise classify_connect_error(name, error, self._timeout) from None
        except CollectionError:
            raise
        except Exception as error:
            close_socket(extra.get("sock"))
            raise classify_connect_error(name, error, self._timeout) from None
        except BaseException:
            close_socket(extra.get("sock"))
            raise
        if via is not None:
            connection.set_tunnel(via)  # closed with this connection
        if policy.notice is not None:
            self.notice = policy.notice
        self.timings = ConnectTimings(None if tcp_s is None else tcp_s * 1000, handshake_s * 1000)
        return connection

    async def _bounded(
        self, pending: Awaitable[asyncssh.SSHClientConnection]
    ) -> asyncssh.SSHClientConnection:
        return await asyncio.wait_for(pending, self._timeout)


def close_socket(sock: object) -> None:
    """Close a socket asyncssh did not take over (closing one it did is harmless)."""
    if isinstance(sock, socket.socket):
        sock.close()


def record_file(files: object) -> Path:
    """Where an accepted key goes: the first user known_hosts file, as ssh does."""
    first = files[0] if isinstance(files, list) and files else DEFAULT_KNOWN_HOSTS[0]
    return Path(str(first)).expanduser()
