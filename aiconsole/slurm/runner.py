"""Where Slurm's commands run: here, or over SSH on a controller/login host.

Both take an argument list and a deadline and return (exit status, stdout, stderr). A client
facing a dead slurmctld takes ~9 s to give up, so every call has its own timeout and a
timed-out call is killed, never waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncssh

from aiconsole.collectors.ssh_options import HostOptions, KnownHostsCache
from aiconsole.slurm.commands import check_host


@dataclass(frozen=True)
class CommandResult:
    status: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        lines = [line for line in (self.stderr or self.stdout).splitlines() if line.strip()]
        return lines[-1].strip() if lines else f"exit status {self.status}"


class CommandFailed(Exception):
    """The command could not be run at all (no connection, timed out)."""


class CommandOutcomeUnknown(CommandFailed):
    """The command was sent but its answer never came (timed out, connection lost mid-way):
    it may still take effect, so what it changed must be found out by looking."""


class LocalRunner:
    where = "local"

    async def run(self, argv: list[str], timeout: float) -> CommandResult:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise CommandFailed(
                f"{argv[0]} not found on this machine (is slurm-client installed?)"
            ) from None
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise CommandOutcomeUnknown(f"{argv[0]} did not answer within {timeout:g} s") from None
        return CommandResult(
            process.returncode or 0,
            stdout.decode("utf-8", "replace"),
            stderr.decode("utf-8", "replace"),
        )

    async def stream(self, argv: list[str]) -> AsyncIterator[bytes]:
        """``argv``'s stdout as it comes, in chunks of at most :data:`STREAM_CHUNK` bytes;
        the process is killed when the reader stops (a follow the operator closed)."""
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise CommandFailed(f"{argv[0]} not found on this machine") from None
        assert process.stdout is not None
        try:
            while chunk := await process.stdout.read(STREAM_CHUNK):
                yield chunk
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            await process.wait()

    def close(self) -> None:
        return None


STREAM_CHUNK = 64 * 1024


class SshRunner:
    """Runs commands on ``host`` over one kept-open SSH connection, resolved like ``ssh``."""

    def __init__(
        self, host: str, ssh_config: str | None = None, connect_timeout: float = 10.0
    ) -> None:
        self.where = host
        self._options = HostOptions(host, ssh_config)
        self._known_hosts = KnownHostsCache()
        self._connect_timeout = connect_timeout
        self._connection: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()

    async def _connected(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._connection is None:
                options = await self._options.resolve()
                try:
                    self._connection = await asyncio.wait_for(
                        asyncssh.connect(
                            self.where,
                            options=options,
                            config=None,
                            known_hosts=self._known_hosts.lookup(options.known_hosts),
                            connect_timeout=self._connect_timeout,
                        ),
                        self._connect_timeout,
                    )
                except asyncssh.HostKeyNotVerifiable:
                    raise CommandFailed(
                        f"{self.where}: host key not known or changed; check known_hosts"
                    ) from None
                except (OSError, asyncssh.Error, asyncio.TimeoutError) as error:
                    raise CommandFailed(
                        f"{self.where}: cannot connect: {error or 'timed out'}"
                    ) from None
            return self._connection

    async def run(self, argv: list[str], timeout: float) -> CommandResult:
        connection = await self._connected()
        try:
            # Bytes, decoded here with replacement: Slurm prints names and paths as the user
            # gave them, and one Latin-1 byte must not cost the whole reading (or the link).
            result = await asyncio.wait_for(
                connection.run(shlex.join(argv), encoding=None), timeout
            )
        except asyncio.TimeoutError:
            raise CommandOutcomeUnknown(
                f"{argv[0]} on {self.where} did not answer within {timeout:g} s"
            ) from None
        except (OSError, asyncssh.Error) as error:
            self.close()
            raise CommandOutcomeUnknown(f"{self.where}: connection lost: {error}") from None
        return CommandResult(
            result.exit_status if result.exit_status is not None else 255,
            _decode(result.stdout),
            _decode(result.stderr),
        )

    async def stream(self, argv: list[str]) -> AsyncIterator[bytes]:
        """As :meth:`LocalRunner.stream`, on ``host``: the remote command is told to stop
        (TERM, then the channel is closed) when the reader stops."""
        connection = await self._connected()
        try:
            process = await connection.create_process(
                shlex.join(argv), encoding=None, stderr=asyncssh.DEVNULL
            )
        except (OSError, asyncssh.Error) as error:
            self.close()
            raise CommandFailed(f"{self.where}: connection lost: {error}") from None
        try:
            while True:
                try:
                    chunk = await process.stdout.read(STREAM_CHUNK)
                except (OSError, asyncssh.Error) as error:
                    raise CommandFailed(f"{self.where}: connection lost: {error}") from None
                if not chunk:
                    return
                yield chunk
        finally:
            # A following `tail -F` never ends by itself: ask sshd to signal it, and close
            # the channel so it dies of SIGPIPE on its next write where signals are refused.
            with contextlib.suppress(OSError, asyncssh.Error):
                process.send_signal("TERM")
            process.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # Its event loop may already be gone (after the TUI exits): so is the socket.
            with contextlib.suppress(RuntimeError):
                connection.close()


def _decode(output: object) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", "replace")
    return str(output or "")


Runner = LocalRunner | SshRunner


def runner_for(where: str, ssh_config: str | None = None) -> Runner:
    """``local`` runs here; anything else is an SSH host (name or alias from ssh config)."""
    check_host(where)
    return LocalRunner() if where == "local" else SshRunner(where, ssh_config)
