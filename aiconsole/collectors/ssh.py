"""Hosts over SSH, agentless: the probe's source goes over the connection and streams back.

Per host: one SSH connection (asyncssh, honouring ~/.ssh/config and known_hosts) and ONE
long-running ``python3`` process that reads the probe from stdin and then prints a JSON line
per interval. Nothing is written to the host's disk; the console only reads.

Every line a host sends is untrusted: it is size-limited and decoded with validation into
:class:`~aiconsole.model.HostSample`. Every failure becomes a host status with a one-line
reason, and the collector reconnects by itself with exponential backoff and jitter. Each host
runs in its own task, so a dead, slow or hostile host delays nobody else.
"""

from __future__ import annotations

import asyncio
import os
import random
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import msgspec

from aiconsole import probe, wire
from aiconsole.collectors.base import CollectionError, Collector, one_line
from aiconsole.collectors.ssh_options import DEFAULT_KNOWN_HOSTS, HostOptions, KnownHostsCache
from aiconsole.model import HostSample, HostState
from aiconsole.store import FleetStore
from aiconsole.text import MAX_REASON, clean, clean_strings, plain_json

# Every module of the probe package in one program, loaded on the host from memory.
PROBE_SOURCE = wire.bundle(
    Path(probe.__file__).parent, "aiconsole.probe", "aiconsole.probe.main:main"
).encode()
MAX_LINE_BYTES = 4 * 1024 * 1024
"""A sample of a big host is tens of KiB; anything near this is not a probe talking."""

OLD_PYTHON_EXIT = 3
# Runs first on the host: refuses an interpreter too old for the probe with a clear message
# (instead of a SyntaxError), then reads the probe from stdin and runs it as __main__.
BOOTSTRAP = (
    "import sys\n"
    "if sys.version_info < (3, 8):\n"
    "    sys.stderr.write('aiconsole: the probe needs Python 3.8+, this host has %s\\n'"
    " % sys.version.split()[0])\n"
    f"    sys.exit({OLD_PYTHON_EXIT})\n"
    "exec(compile(sys.stdin.read(), 'aiconsole-probe', 'exec'))\n"
)


@dataclass(frozen=True)
class SshOptions:
    python: str = "python3"
    connect_timeout: float = 5.0
    ssh_config: str | None = None
    reconnect_max_s: float = 30.0
    accept_new_host_keys: bool = False
    """Record the key of a host that known_hosts does not list at all (never a changed one)."""


def probe_command(python: str, interval: float, name: str, count: int | None = None) -> str:
    """The remote command line, built from quoted arguments (names never reach a shell raw).

    A streaming probe samples on wall-clock ticks, so the whole fleet samples together; a
    one-shot probe takes its samples exactly ``interval`` apart.
    """
    argv = [python, "-c", BOOTSTRAP, "--interval", f"{interval:g}", "--name", name]
    if count is None:
        argv.append("--align")
    else:
        argv += ["--count", str(count)]
    return shlex.join(argv)


def classify_connect_error(name: str, error: BaseException, timeout: float) -> CollectionError:
    """Turn what asyncssh raised while connecting into a status and a one-line reason."""
    if isinstance(error, TimeoutError):
        return CollectionError("unreachable", f"connect timed out after {timeout:g} s")
    if isinstance(error, asyncssh.HostKeyNotVerifiable):
        return CollectionError(
            "host_key_refused",
            f"host key of {name} is not in known_hosts or has changed ({error.reason}); "
            "verify the key, then update known_hosts",
        )
    if isinstance(error, asyncssh.PermissionDenied):
        return CollectionError(
            "auth_failed",
            f"{name} refused our keys ({error.reason}); check ssh-agent, IdentityFile and "
            "the host's authorized_keys",
        )
    if isinstance(error, ConnectionRefusedError):
        return CollectionError("unreachable", "connection refused (sshd not running?)")
    if isinstance(error, OSError):
        return CollectionError("unreachable", one_line(error))
    if isinstance(error, asyncssh.Error):
        return CollectionError("unreachable", f"ssh: {error.reason}")
    return CollectionError("unreachable", one_line(error))


def describe_exit(status: int | None, stderr: str, python: str) -> CollectionError:
    last = next((line for line in reversed(stderr.strip().splitlines()) if line.strip()), "")
    if status == 127:
        return CollectionError("probe_error", f"{python} not found on the host")
    if status == OLD_PYTHON_EXIT and "needs Python" in last:
        return CollectionError("probe_error", last.removeprefix("aiconsole: "))
    detail = f": {last}" if last else ""
    return CollectionError("probe_error", f"probe exited with status {status}{detail}")


def decode_line(line: bytes) -> HostSample:
    """One line of probe output as a validated sample whose every string is clean.

    A line that :func:`~aiconsole.text.plain_json` proves plain (the usual case) is decoded
    straight into the structs; any other is decoded the same way and then walked by
    :func:`~aiconsole.text.clean_strings`.
    """
    if len(line) > MAX_LINE_BYTES:
        raise CollectionError("probe_error", f"probe line of {len(line)} bytes refused")
    try:
        sample = msgspec.json.decode(line, type=HostSample)
    except msgspec.DecodeError as error:
        preview = line[:60].decode("utf-8", "replace").strip()
        raise CollectionError(
            "probe_error", clean(f"undecodable probe output ({error}): {preview!r}", MAX_REASON)
        ) from None
    return sample if plain_json(line) else clean_strings(sample)


def _as_bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    return data.encode() if isinstance(data, str) else data


@dataclass(frozen=True)
class HostCheck:
    """What ``aiconsole hosts check`` reports for one host."""

    name: str
    status: str
    reason: str | None = None
    connect_ms: float | None = None
    rtt_ms: float | None = None
    probe_version: str | None = None
    python_version: str | None = None
    hostname: str | None = None


class SshCollector(Collector):
    def __init__(
        self,
        name: str,
        store: FleetStore,
        *,
        options: SshOptions,
        handshakes: asyncio.Semaphore,
        known_hosts: KnownHostsCache | None = None,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            name,
            store,
            interval=interval,
            timeout=options.connect_timeout + 3 * interval,
            clock=clock,
        )
        self.options = options
        self._handshakes = handshakes
        self._known_hosts = known_hosts or KnownHostsCache()
        self._host_options = HostOptions(name, options.ssh_config)
        self._notice: str | None = None
        """Shown as the reason on this host's rows while the connection that caused it lasts."""
        self._rng = random.Random()

    def notice(self) -> str | None:
        return self._notice

    # -- one-shot (snapshot --json) ----------------------------------------------------------

    async def _collect(self) -> HostSample:
        """Connect, take one sample, disconnect."""
        return await self._sample_once(count=1, interval=self.interval)

    async def collect_for_snapshot(self, window: float) -> HostState:
        """One connection, two samples ``window`` apart (rates filled in), then disconnect."""
        count = 2 if window > 0 else 1
        return await self._collect_with(
            self._sample_once(count, window or self.interval),
            timeout=self.options.connect_timeout + window + 10,
        )

    async def _sample_once(self, count: int, interval: float) -> HostSample:
        connection = await self._connect()
        try:
            return await self._run_probe(connection, count, interval)
        finally:
            connection.close()

    async def _run_probe(
        self, connection: asyncssh.SSHClientConnection, count: int, interval: float
    ) -> HostSample:
        command = probe_command(self.options.python, interval, self.name, count)
        result = await connection.run(command, input=PROBE_SOURCE, encoding=None)
        stdout = _as_bytes(result.stdout)
        lines = [line for line in stdout.splitlines() if line.strip()]
        if result.exit_status != 0 or not lines:
            stderr = _as_bytes(result.stderr).decode("utf-8", "replace")
            raise describe_exit(result.exit_status, stderr, self.options.python)
        return decode_line(lines[-1])

    async def check(self) -> HostCheck:
        """Reachability, authentication, one command's round trip, and the probe's version."""
        started = time.monotonic()
        try:
            connection = await self._connect()
        except CollectionError as error:
            return HostCheck(self.name, error.status, error.reason)
        connect_ms = (time.monotonic() - started) * 1000
        async with connection:
            started = time.monotonic()
            await asyncio.wait_for(connection.run("true"), self.options.connect_timeout)
            rtt_ms = (time.monotonic() - started) * 1000
            try:
                sample = await asyncio.wait_for(
                    self._run_probe(connection, count=1, interval=self.interval),
                    self.options.connect_timeout + 10,
                )
            except CollectionError as error:
                return HostCheck(self.name, error.status, error.reason, connect_ms, rtt_ms)
        ident = sample.identity
        return HostCheck(
            self.name,
            "ok",
            None,
            connect_ms,
            rtt_ms,
            ident.probe_version,
            ident.python_version,
            ident.hostname,
        )

    # -- streaming (TUI) ---------------------------------------------------------------------

    async def run(self) -> None:
        """Stream forever; after any failure, reconnect with backoff and jitter."""
        failures = 0
        while True:
            try:
                await self._stream()
                failures = 0
            except CollectionError as error:
                self.store.put(self._failed(error.status, error.reason))
                failures += 1
            except (asyncssh.Error, OSError) as error:
                self.store.put(self._failed("unreachable", f"connection lost: {one_line(error)}"))
                failures += 1
            except Exception as error:
                self.store.put(self._failed("probe_error", one_line(error)))
                failures += 1
            await asyncio.sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        if failures == 0:
            return 0.0
        ceiling = min(self.options.reconnect_max_s, 2.0 ** (failures - 1))
        return ceiling * self._rng.uniform(0.5, 1.0)

    async def _connect(self) -> asyncssh.SSHClientConnection:
        # Handshakes are CPU-bound on both ends: bound how many run at once, fleet-wide.
        async with self._handshakes:
            options = await self._host_options.resolve()
            known_hosts = self._known_hosts.lookup(options.known_hosts)
            self._notice = None
            try:
                return await self._open(options, known_hosts)
            except asyncssh.HostKeyNotVerifiable as error:
                if not (self.options.accept_new_host_keys and self._unknown(options, known_hosts)):
                    raise classify_connect_error(
                        self.name, error, self.options.connect_timeout
                    ) from None
            except Exception as error:
                raise classify_connect_error(
                    self.name, error, self.options.connect_timeout
                ) from None
            return await self._accept_new(options)

    async def _open(
        self, options: asyncssh.SSHClientConnectionOptions, known_hosts: Any
    ) -> asyncssh.SSHClientConnection:
        return await asyncio.wait_for(
            asyncssh.connect(
                self.name,
                options=options,
                config=None,  # already evaluated into ``options``
                known_hosts=known_hosts,
                connect_timeout=self.options.connect_timeout,
            ),
            self.options.connect_timeout,
        )

    def _unknown(
        self, options: asyncssh.SSHClientConnectionOptions, known_hosts: asyncssh.SSHKnownHosts
    ) -> bool:
        """True when known_hosts has no key at all for this host (by name or HostName)."""
        names = {self.name, str(options.config.get("Hostname") or self.name)}
        return not any(known_hosts.match(name, "", None)[0] for name in names)

    async def _accept_new(
        self, options: asyncssh.SSHClientConnectionOptions
    ) -> asyncssh.SSHClientConnection:
        """ssh's accept-new: trust this first key, record it, and say so on the host's row."""
        try:
            connection = await self._open(options, None)
        except Exception as error:
            raise classify_connect_error(self.name, error, self.options.connect_timeout) from None
        key = connection.get_server_host_key()
        files = options.known_hosts
        target = Path(files[0] if isinstance(files, list) and files else DEFAULT_KNOWN_HOSTS[0])
        target = target.expanduser()
        host = str(options.config.get("Hostname") or self.name)
        try:
            if key is None:
                raise OSError("the server sent no host key")
            kind, data = key.export_public_key("openssh").decode().split()[:2]
            line = f"{host} {kind} {data}\n"
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with target.open("a") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            connection.close()
            raise CollectionError(
                "host_key_refused", f"could not record the new host key in {target}: {error}"
            ) from None
        fingerprint = key.get_fingerprint("sha256")
        self._notice = f"accepted new host key {fingerprint}, recorded in {target}"
        return connection

    async def _stream(self) -> None:
        """Run the probe once and publish every line until the stream ends or stalls."""
        stale_after = max(3 * self.interval, self.options.connect_timeout)
        async with await self._connect() as connection:
            command = probe_command(self.options.python, self.interval, self.name)
            process = await connection.create_process(command, encoding=None)
            process.stdin.write(PROBE_SOURCE)
            process.stdin.write_eof()
            silent_since: float | None = None
            while True:
                try:
                    line = await asyncio.wait_for(process.stdout.readline(), stale_after)
                except TimeoutError:
                    # No sample in time: say so at once, give the host a while longer, then
                    # reconnect (a frozen or partitioned host never closes the stream).
                    now = time.monotonic()
                    silent_since = silent_since or now - stale_after
                    silent = now - silent_since
                    if silent >= 3 * stale_after:
                        raise CollectionError(
                            "unreachable", f"no data for {silent:.0f} s; reconnecting"
                        ) from None
                    self.store.put(self._failed("stale", f"no sample for {silent:.0f} s"))
                    continue
                silent_since = None
                if not line:
                    process.stdin.close()
                    await asyncio.wait_for(process.wait_closed(), 5)
                    stderr = (await process.stderr.read()).decode("utf-8", "replace")
                    raise describe_exit(process.exit_status, stderr, self.options.python)
                sample = decode_line(line)
                self.store.put(
                    HostState(
                        name=self.name,
                        status="ok",
                        reason=self.notice(),
                        received_at=self._clock(),
                        sample=sample,
                    )
                )
