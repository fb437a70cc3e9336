"""Hosts over SSH, agentless: the probe's source goes over the connection and streams back.

Per host: one SSH connection (asyncssh, honouring ~/.ssh/config and known_hosts; see
:mod:`aiconsole.collectors.ssh_connect`) and ONE long-running ``python3`` process that reads
the probe from stdin and then prints a JSON line per interval. Nothing is written to the
host's disk; the console only reads.

Every line a host sends is untrusted: it is read with a hard size limit and decoded with
validation into :class:`~aiconsole.model.HostSample`; the probe's stderr is drained as it
comes, keeping only its tail. Every failure becomes a host status with a one-line reason, and
the collector reconnects by itself with exponential backoff and jitter; the old probe is
stopped on the host even when it hangs (see ``BOOTSTRAP``).
Each host runs in its own task, so a dead, slow or hostile host delays nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import msgspec

from aiconsole import probe, wire
from aiconsole.collectors.base import CollectionError, Collector, one_line
from aiconsole.collectors.lines import (
    MAX_LINE_BYTES,
    SSH_WINDOW,
    BoundedLines,
    LineTooLong,
    read_tail,
)
from aiconsole.collectors.ssh_check import HostCheck, check_host
from aiconsole.collectors.ssh_connect import Connector, classify_connect_error
from aiconsole.collectors.ssh_options import KnownHostsCache
from aiconsole.model import HostSample, HostState
from aiconsole.store import FleetStore
from aiconsole.text import MAX_REASON, clean, clean_strings, plain_json

__all__ = ["MAX_LINE_BYTES", "HostCheck", "SshCollector", "SshOptions", "classify_connect_error"]

PROBE_SOURCE = wire.payload(
    Path(probe.__file__).parent, "aiconsole.probe", "aiconsole.probe.main:main"
)
"""The probe package as sent to a host (:func:`aiconsole.wire.payload`); its size is the
bootstrap's first argument."""

OLD_PYTHON_EXIT = 3
# Runs first on the host. It refuses an interpreter too old for the probe with a clear message
# (instead of a SyntaxError), reads the payload (its size is the first argument), and runs the
# probe in a child process while it watches stdin: the console keeps stdin open while it
# wants samples, and it closes when the console says stop or its connection goes, whatever
# the reason. The child is then killed. Closing the connection alone would end a probe only
# when it next writes; one hung in a driver call never does, and keeps the GPUs' device
# files open (which blocks a GPU reset). sshd cannot be asked instead: it refuses to signal
# the sessions of root logins.
# Start-up is paid on every host at every connect, so the parent imports only built-in
# modules (``_thread``, not ``threading``), and the child unmarshals the modules the console
# compiled when the host's bytecode is the console's (see :mod:`aiconsole.wire`).
BOOTSTRAP = (
    "import os, sys\n"
    "if sys.version_info < (3, 8):\n"
    "    sys.stderr.write('aiconsole: the probe needs Python 3.8+, this host has %s\\n'"
    " % sys.version.split()[0])\n"
    f"    sys.exit({OLD_PYTHON_EXIT})\n"
    "payload = sys.stdin.buffer.read(int(sys.argv.pop(1)))\n"
    "child = os.fork()\n"
    "if child:\n"
    "    import _thread\n"
    "    def watch():\n"
    "        while os.read(0, 65536):\n"
    "            pass\n"
    "        os.kill(child, 9)\n"
    "    _thread.start_new_thread(watch, ())\n"
    "    status = os.waitpid(child, 0)[1]\n"
    "    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))\n"
    "os.dup2(os.open(os.devnull, os.O_RDONLY), 0)\n"
    + wire.UNPACK
    + "exec(compile(program, 'aiconsole-probe', 'exec'))\n"
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

    ``exec``: the interpreter replaces the login shell (one process fewer per host); ``-I``
    keeps the host's working directory (the login's home), user site-packages and PYTHON*
    variables out of the probe's imports. The first argument after the bootstrap is the size
    of the probe's source, which follows on stdin.

    A streaming probe samples on wall-clock ticks, so the whole fleet samples together; a
    one-shot probe takes its samples exactly ``interval`` apart.
    """
    argv = [python, "-I", "-c", BOOTSTRAP, str(len(PROBE_SOURCE))]
    argv += ["--interval", f"{interval:g}", "--name", name]
    if count is None:
        argv.append("--align")
    else:
        argv += ["--count", str(count)]
    return "exec " + shlex.join(argv)


def describe_exit(
    status: int | None, stderr: str, python: str, signal: str | None = None
) -> CollectionError:
    """Why the probe ended, from its exit status and the last line of its stderr (cleaned)."""
    last = next((line for line in reversed(stderr.strip().splitlines()) if line.strip()), "")
    last = clean(last)
    if status == 127:
        return CollectionError("probe_error", clean(f"{python} not found on the host"))
    if status == OLD_PYTHON_EXIT and "needs Python" in last:
        return CollectionError("probe_error", last.removeprefix("aiconsole: "))
    detail = f": {last}" if last else ""
    if status is None and signal:
        return CollectionError("probe_error", clean(f"probe killed by signal {signal}{detail}"))
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


def too_long(error: LineTooLong) -> CollectionError:
    return CollectionError("probe_error", f"{error}; refused")


def start_probe(process: asyncssh.SSHClientProcess[bytes]) -> None:
    """Send the probe's source; stdin then stays open for as long as samples are wanted."""
    process.stdin.write(PROBE_SOURCE)


def stop_remote(process: asyncssh.SSHClientProcess[bytes]) -> None:
    """Tell the probe to stop: the bootstrap kills it when its stdin ends (see BOOTSTRAP)."""
    if process.exit_status is None and process.exit_signal is None:
        with contextlib.suppress(Exception):  # the channel may be gone already
            process.stdin.write_eof()


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
        self._connector = Connector(
            name,
            ssh_config=options.ssh_config,
            connect_timeout=options.connect_timeout,
            handshakes=handshakes,
            known_hosts=known_hosts or KnownHostsCache(),
            accept_new_host_keys=options.accept_new_host_keys,
        )
        self._notice: str | None = None
        """Shown as the reason on this host's rows while the connection that caused it lasts."""
        self._rng = random.Random()

    def notice(self) -> str | None:
        return self._notice

    async def connect(self) -> asyncssh.SSHClientConnection:
        """One connection to the host (its step timings in :attr:`connector`)."""
        return await self._connect()

    async def _connect(self) -> asyncssh.SSHClientConnection:
        connection = await self._connector.connect()
        self._notice = self._connector.notice
        return connection

    # -- one-shot (snapshot --json, hosts check) -------------------------------------------

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
        """Run a probe for ``count`` samples; the last. Reads at most ``count`` bounded lines."""
        command = probe_command(self.options.python, interval, self.name, count)
        process = await connection.create_process(command, encoding=None, window=SSH_WINDOW)
        stderr = asyncio.create_task(read_tail(process.stderr))
        try:
            start_probe(process)
            lines = BoundedLines(process.stdout)
            sample: HostSample | None = None
            for _ in range(count):
                try:
                    line = await lines.readline()
                except LineTooLong as error:
                    raise too_long(error) from None
                if line is None:
                    break
                sample = decode_line(line)
            else:
                assert sample is not None
                return sample
            raise await self._exit_error(process, stderr)
        finally:
            stop_remote(process)
            stderr.cancel()

    async def _exit_error(
        self, process: asyncssh.SSHClientProcess[bytes], stderr: asyncio.Task[bytes]
    ) -> CollectionError:
        """Why the probe's output ended: its exit status or signal and its stderr's tail."""
        await asyncio.wait_for(process.wait_closed(), 5)
        tail = await asyncio.wait_for(stderr, 5)
        return describe_exit(
            process.exit_status,
            tail.decode("utf-8", "replace"),
            self.options.python,
            process.exit_signal[0] if process.exit_signal else None,
        )

    async def check(self) -> HostCheck:
        """What ``aiconsole hosts check`` reports for this host (never raises)."""
        return await check_host(self)

    @property
    def connector(self) -> Connector:
        return self._connector

    async def run_probe(
        self, connection: asyncssh.SSHClientConnection, count: int, interval: float
    ) -> HostSample:
        return await self._run_probe(connection, count, interval)

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
                reason = clean(f"connection lost: {one_line(error)}")
                self.store.put(self._failed("unreachable", reason))
                failures += 1
            except Exception as error:
                self.store.put(self._failed("probe_error", clean(one_line(error))))
                failures += 1
            await asyncio.sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        if failures == 0:
            return 0.0
        ceiling = min(self.options.reconnect_max_s, 2.0 ** (failures - 1))
        return ceiling * self._rng.uniform(0.5, 1.0)

    async def _stream(self) -> None:
        """Run the probe once and publish every line until the stream ends or stalls."""
        stale_after = max(3 * self.interval, self.options.connect_timeout)
        async with await self._connect() as connection:
            command = probe_command(self.options.python, self.interval, self.name)
            process = await connection.create_process(command, encoding=None, window=SSH_WINDOW)
            stderr = asyncio.create_task(read_tail(process.stderr))
            try:
                start_probe(process)
                await self._publish_lines(process, BoundedLines(process.stdout), stale_after)
                raise await self._exit_error(process, stderr)
            finally:
                stop_remote(process)
                stderr.cancel()

    async def _publish_lines(
        self, process: asyncssh.SSHClientProcess[bytes], lines: BoundedLines, stale_after: float
    ) -> None:
        """Decode and publish each line until the stream ends (returns) or fails (raises)."""
        silent_since: float | None = None
        while True:
            try:
                line = await asyncio.wait_for(lines.readline(), stale_after)
            except TimeoutError:
                # No whole sample in time: say so at once, give the host a while longer, then
                # reconnect (a frozen or partitioned host never closes the stream, and a
                # host that trickles a line byte by byte never finishes it).
                now = time.monotonic()
                silent_since = silent_since or now - stale_after
                silent = now - silent_since
                if silent >= 3 * stale_after:
                    raise CollectionError(
                        "unreachable", f"no data for {silent:.0f} s; reconnecting"
                    ) from None
                self.store.put(self._failed("stale", f"no sample for {silent:.0f} s"))
                continue
            except LineTooLong as error:
                raise too_long(error) from None
            silent_since = None
            if line is None:
                return
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
