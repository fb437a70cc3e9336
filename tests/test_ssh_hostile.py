"""A host that misbehaves costs the console a bounded amount, and nobody else anything.

The host is a real OpenSSH ``sshd`` on a loopback port; its "probe interpreter" is a script
of the test's making (flooding, hanging, talking on stderr), as a broken or hostile host's
``python3`` would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiconsole.collectors.lines import MAX_LINE_BYTES
from aiconsole.collectors.ssh import PROBE_SOURCE, SshCollector, SshOptions, probe_command
from aiconsole.model import HostState
from aiconsole.store import FleetStore
from tests.conftest import run_aiconsole
from tests.estate import required
from tests.sshd_loopback import Sshd, client_key, sshd_missing, start_sshd

pytestmark = required(sshd_missing())

PYTHON = "/usr/bin/python3"


@dataclass
class Host:
    sshd: Sshd
    ssh_config: Path
    scripts: Path

    def interpreter(self, name: str, body: str) -> str:
        """A probe interpreter: a Python script, run by the real one."""
        path = self.scripts / name
        path.write_text(f"#!{PYTHON}\n{body}")
        path.chmod(0o755)
        return str(path)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    root = tmp_path_factory.mktemp("hostile")
    key, authorized = client_key(root)
    sshd = start_sshd(root / "sshd", authorized)
    known = root / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {sshd.public_key}\n")
    config = root / "ssh_config"
    config.write_text(
        f"Host *\n  User root\n  IdentityFile {key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known}\n  GlobalKnownHostsFile /dev/null\n"
        f"Host good bad\n  HostName 127.0.0.1\n  Port {sshd.port}\n"
    )
    scripts = root / "scripts"
    scripts.mkdir()
    try:
        yield Host(sshd, config, scripts)
    finally:
        sshd.process.kill()
        sshd.process.wait(timeout=10)


def collector(
    host: Host,
    python: str = PYTHON,
    name: str = "bad",
    *,
    store: FleetStore | None = None,
    interval: float = 0.2,
    timeout: float = 5,
    handshakes: asyncio.Semaphore | None = None,
) -> SshCollector:
    return SshCollector(
        name,
        store or FleetStore(),
        options=SshOptions(python=python, connect_timeout=timeout, ssh_config=str(host.ssh_config)),
        handshakes=handshakes or asyncio.Semaphore(4),
        interval=interval,
    )


@contextlib.asynccontextmanager
async def streaming(collect: SshCollector) -> AsyncIterator[list[HostState]]:
    """Run the collector's stream; yield every state it publishes, as it publishes them."""
    seen: list[HostState] = []
    put = collect.store.put

    def recording(state: HostState) -> None:
        seen.append(state)
        put(state)

    collect.store.put = recording  # type: ignore[method-assign]
    task = asyncio.create_task(collect.run())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(
    seen: list[HostState], check: Callable[[HostState], bool], after: int = 0, limit: float = 60
) -> int:
    """The position of the first state published after ``after`` that satisfies ``check``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    looked = after
    while loop.time() < deadline:
        for position in range(looked, len(seen)):
            if check(seen[position]):
                return position
        looked = len(seen)
        await asyncio.sleep(0.05)
    raise AssertionError(f"never seen; last states: {[(s.status, s.reason) for s in seen[-3:]]}")


def stop(marker: str) -> None:
    """Kill what this test started on the host (its command lines name ``marker``)."""
    for pid in running(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


async def eventually(condition: Callable[[], bool], limit: float = 20) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


def running(marker: str) -> list[str]:
    """Processes on this machine (the host) whose command line names ``marker``."""
    result = subprocess.run(["pgrep", "-f", "--", marker], capture_output=True, text=True)
    return result.stdout.split()


# -- streaming --------------------------------------------------------------------------------


async def test_a_hung_probe_is_stopped_when_the_console_reconnects(host: Host) -> None:
    """The real probe, made to hang: it is told to sample once a day (the interpreter below
    changes only that argument), so after its first sample it never writes again."""
    python = host.interpreter(
        "hangs",
        "import os, sys\nargs = sys.argv[1:]\nargs[args.index('--interval') + 1] = '86400'\n"
        f"os.execv({PYTHON!r}, [{PYTHON!r}, *args])\n",
    )
    hung = "--interval 86400 --name bad"
    collect = collector(host, python, timeout=1)  # silent for 3 s: reconnect
    try:
        async with streaming(collect) as seen:
            assert await eventually(lambda: bool(running(hung)))  # the pattern finds them
            position = -1
            for _ in range(3):
                position = await until(
                    seen, lambda s: "reconnecting" in (s.reason or ""), after=position + 1
                )
        # The console has stopped: none of the probes it started may be left on the host.
        assert await eventually(lambda: not running(hung)), running(hung)
    finally:
        stop(hung)


async def test_a_probe_that_fills_stderr_still_streams(host: Host) -> None:
    python = host.interpreter(
        "chatty",
        "import os, sys\nsys.stderr.buffer.write(b'e' * (4 << 20))\nsys.stderr.flush()\n"
        f"os.execv({PYTHON!r}, [{PYTHON!r}, *sys.argv[1:]])\n",
    )
    async with streaming(collector(host, python)) as seen:
        assert seen[await until(seen, lambda s: s.status == "ok")].sample is not None


async def test_an_endless_line_is_refused_at_the_line_limit(host: Host) -> None:
    python = host.interpreter(
        "floods",
        "import sys\nwhile True:\n    sys.stdout.buffer.write(b'x' * 65536)\n",
    )
    async with streaming(collector(host, python)) as seen:
        state = seen[await until(seen, lambda s: s.status == "probe_error")]
    assert f"probe line over {MAX_LINE_BYTES} bytes" in (state.reason or "")


# -- one-shot (snapshot, hosts check) ------------------------------------------------------------


async def test_one_shot_reads_no_further_than_the_first_bad_line(host: Host) -> None:
    python = host.interpreter(
        "floods-lines",
        "import sys\nwhile True:\n    sys.stdout.buffer.write(b'x' * 65535 + b'\\n')\n",
    )
    state = await collector(host, python).collect_for_snapshot(0)
    assert state.status == "probe_error"
    assert "undecodable probe output" in (state.reason or "")


async def test_hosts_check_reports_a_hung_probe_as_a_row(host: Host) -> None:
    python = host.interpreter("hangs-check", "import time\ntime.sleep(600)\n")
    try:
        check = await collector(host, python, timeout=1).check()
    finally:
        stop(python)
    assert check.status == "stale"
    assert check.rtt_ms is not None and check.handshake_ms is not None
    assert check.command_ms is not None


def test_hosts_check_prints_every_row_when_probes_hang(
    host: Host, tmp_path: Path, no_gpu_env: dict[str, str]
) -> None:
    python = host.interpreter("hangs-cli", "import time\ntime.sleep(600)\n")
    config = tmp_path / "config.toml"
    config.write_text(
        f'hosts = "good,bad"\n[settings]\npython = "{python}"\nconnect_timeout = 1\n'
        f'ssh_config = "{host.ssh_config}"\n'
    )
    try:
        code, stdout, stderr = run_aiconsole(
            "--config", str(config), "hosts", "check", env=no_gpu_env
        )
    finally:
        stop(python)
    assert code == 2, stderr
    rows = [line.split() for line in stdout.splitlines()[1:]]
    assert [(row[0], row[1]) for row in rows] == [("good", "stale"), ("bad", "stale")]


async def test_a_dead_host_does_not_hold_the_handshake_bound(host: Host) -> None:
    """Two hosts whose TCP connect never completes, one handshake at a time: the good host
    still gets through before either dead one gives up."""
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(0)
        port = black_hole.getsockname()[1]
        # Fill the accept queue: from now on the kernel drops every SYN to this port.
        filler = socket.create_connection(("127.0.0.1", port))
        config = host.ssh_config.read_text()
        host.ssh_config.write_text(
            config + f"Host dead1 dead2\n  HostName 127.0.0.1\n  Port {port}\n"
        )
        try:
            handshakes = asyncio.Semaphore(1)
            store = FleetStore()
            pending = {
                asyncio.create_task(
                    collector(
                        host, name=name, store=store, handshakes=handshakes
                    ).collect_for_snapshot(0)
                )
                for name in ("dead1", "dead2", "good")
            }
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            first = next(iter(done)).result()
            await asyncio.gather(*pending)
        finally:
            filler.close()
            host.ssh_config.write_text(config)
    assert (first.name, first.status) == ("good", "ok")
    assert {h.name: h.status for h in store.snapshot().hosts} == {
        "dead1": "unreachable",
        "dead2": "unreachable",
        "good": "ok",
    }


# -- the command line itself ---------------------------------------------------------------------


def test_the_probe_ignores_modules_in_the_login_directory(tmp_path: Path) -> None:
    """The remote command runs in the login's home; a ``json.py`` there must not be imported."""
    marker = tmp_path / "imported"
    (tmp_path / "json.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(9)\n")
    command = probe_command(sys.executable, 0.1, "here", count=1)
    shell = subprocess.Popen(
        ["sh", "-c", command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert shell.stdin is not None and shell.stdout is not None and shell.stderr is not None
    shell.stdin.write(PROBE_SOURCE)
    shell.stdin.flush()  # and kept open: closing it tells the probe to stop
    try:
        status = shell.wait(timeout=60)  # one sample: it fits in the pipe, then the probe ends
    finally:
        shell.kill()
        shell.stdin.close()
    output = shell.stdout.read()
    assert status == 0, shell.stderr.read().decode(errors="replace")
    assert not marker.exists()
    assert output.startswith(b"{")
