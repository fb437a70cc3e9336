"""``aiconsole hosts check``: for each host, how far a connection gets and how long each step
takes, so an operator can tell a slow network from a slow handshake from a slow login.

- ``rtt_ms``: the TCP connect to the host's SSH port alone (SYN to SYN-ACK: one network
  round trip; name resolution excluded). None through a ProxyJump or ProxyCommand.
- ``handshake_ms``: key exchange, host key check and authentication.
- ``command_ms``: running ``true`` over the open connection (a session channel, the login's
  shell, the command, its exit status): what every command on the host costs at least.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncssh

from aiconsole.collectors.base import CollectionError, one_line
from aiconsole.text import clean

if TYPE_CHECKING:
    from aiconsole.collectors.ssh import SshCollector


@dataclass(frozen=True)
class HostCheck:
    """What ``aiconsole hosts check`` reports for one host."""

    name: str
    status: str
    reason: str | None = None
    rtt_ms: float | None = None
    handshake_ms: float | None = None
    command_ms: float | None = None
    probe_version: str | None = None
    python_version: str | None = None
    hostname: str | None = None


@dataclass
class Steps:
    """The times measured so far; a failure reports those it got to."""

    rtt_ms: float | None = None
    handshake_ms: float | None = None
    command_ms: float | None = None

    def row(self, name: str, status: str, reason: str | None, **identity: str | None) -> HostCheck:
        return HostCheck(
            name, status, reason, self.rtt_ms, self.handshake_ms, self.command_ms, **identity
        )


async def check_host(collector: SshCollector) -> HostCheck:
    """Reachability, authentication, each step's time, and the probe's version.

    Never raises: whatever happens becomes this host's row, so one bad host never costs the
    report of the others.
    """
    name = collector.name
    timeout = collector.options.connect_timeout
    steps = Steps()
    try:
        connection = await collector.connect()
        timings = collector.connector.timings
        if timings is not None:
            steps.rtt_ms, steps.handshake_ms = timings.tcp_ms, timings.handshake_ms
        async with connection:
            started = time.monotonic()
            try:
                await asyncio.wait_for(connection.run("true"), timeout)
            except TimeoutError:
                raise CollectionError(
                    "unreachable", f"no answer to a command within {timeout:g} s"
                ) from None
            steps.command_ms = (time.monotonic() - started) * 1000
            limit = timeout + 10
            try:
                sample = await asyncio.wait_for(
                    collector.run_probe(connection, count=1, interval=collector.interval), limit
                )
            except TimeoutError:
                raise CollectionError("stale", f"no probe sample within {limit:g} s") from None
    except CollectionError as error:
        return steps.row(name, error.status, error.reason)
    except (asyncssh.Error, OSError) as error:
        return steps.row(name, "unreachable", clean(f"connection lost: {one_line(error)}"))
    except Exception as error:
        return steps.row(name, "probe_error", clean(one_line(error)))
    ident = sample.identity
    return steps.row(
        name,
        "ok",
        None,
        probe_version=ident.probe_version,
        python_version=ident.python_version,
        hostname=ident.hostname,
    )
