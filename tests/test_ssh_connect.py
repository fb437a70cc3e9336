"""Connecting like ssh: host keys (strict, accept-new), ProxyJump, no agent forwarding.

Against real OpenSSH ``sshd`` daemons on loopback ports other than 22 (so known_hosts
entries are ``[127.0.0.1]:PORT``, as OpenSSH writes them), and against a hostile SSH server
(asyncssh's) whose disconnect message carries terminal escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from aiconsole.collectors.ssh import SshCollector, SshOptions
from aiconsole.collectors.ssh_options import HostOptions
from aiconsole.model import HostState
from aiconsole.store import FleetStore
from aiconsole.text import is_clean
from tests.estate import required
from tests.sshd_loopback import Sshd, client_key, sshd_missing, start_sshd

pytestmark = required(sshd_missing())

PYTHON = "/usr/bin/python3"


@dataclass
class Loopback:
    jump: Sshd
    target: Sshd
    client_key: Path
    known_hosts: Path
    ssh_config: Path

    def write_config(self, extra: str = "") -> None:
        self.ssh_config.write_text(
            f"Host *\n  User root\n  IdentityFile {self.client_key}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.known_hosts}\n  GlobalKnownHostsFile /dev/null\n"
            f"Host jumpbox\n  HostName 127.0.0.1\n  Port {self.jump.port}\n"
            f"Host target\n  HostName 127.0.0.1\n  Port {self.target.port}\n{extra}"
        )

    def entry(self, sshd: Sshd, key: str | None = None) -> str:
        return f"[127.0.0.1]:{sshd.port} {key or sshd.public_key}\n"


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    root = tmp_path_factory.mktemp("loopback")
    key, authorized = client_key(root)
    jump = start_sshd(root / "jump", authorized)
    try:
        target = start_sshd(root / "target", authorized)
    except BaseException:
        jump.process.kill()
        raise
    try:
        yield Loopback(jump, target, key, root / "known_hosts", root / "ssh_config")
    finally:
        for sshd in (jump, target):
            sshd.process.kill()
            sshd.process.wait(timeout=10)


@pytest.fixture
def setup(loopback: Loopback) -> Loopback:
    loopback.known_hosts.write_text(loopback.entry(loopback.jump) + loopback.entry(loopback.target))
    loopback.write_config()
    return loopback


def other_key() -> str:
    key = asyncssh.generate_private_key("ssh-ed25519")
    return " ".join(key.export_public_key().decode().split()[:2])


def collector(
    setup: Loopback, name: str = "target", accept_new: bool = False, python: str = PYTHON
) -> SshCollector:
    return SshCollector(
        name,
        FleetStore(),
        options=SshOptions(
            python=python,
            connect_timeout=5,
            ssh_config=str(setup.ssh_config),
            accept_new_host_keys=accept_new,
        ),
        handshakes=asyncio.Semaphore(4),
        interval=0.1,
    )


async def sample(collect: SshCollector) -> HostState:
    return await collect.collect_for_snapshot(0)


async def ok(collect: SshCollector) -> HostState:
    state = await sample(collect)
    assert state.status == "ok", state.reason
    return state


async def refused(collect: SshCollector) -> HostState:
    state = await sample(collect)
    assert state.status == "host_key_refused", state.reason
    return state


# -- accept-new: only a host known_hosts has no line for at all ------------------------------


async def test_accept_new_records_an_unknown_host_as_host_port(setup: Loopback) -> None:
    setup.known_hosts.write_text(setup.entry(setup.jump))  # the target is not listed
    await refused(collector(setup))  # strict by default

    accepted = await ok(collector(setup, accept_new=True))
    assert "accepted new host key SHA256:" in (accepted.reason or "")
    lines = setup.known_hosts.read_text().splitlines()
    assert lines[-1] == setup.entry(setup.target).strip()  # [127.0.0.1]:PORT, as ssh writes

    again = await ok(collector(setup))  # now simply trusted, with nothing to say
    assert again.reason is None


async def test_accept_new_refuses_a_changed_key_listed_under_host_port(setup: Loopback) -> None:
    setup.known_hosts.write_text(setup.entry(setup.target, other_key()))
    before = setup.known_hosts.read_text()
    state = await refused(collector(setup, accept_new=True))
    assert "target" in (state.reason or "")
    assert setup.known_hosts.read_text() == before  # nothing appended


async def test_accept_new_refuses_a_changed_key_listed_by_address(setup: Loopback) -> None:
    # The config names the host "localhost"; known_hosts knows it only by its address.
    setup.write_config(f"Host byname\n  HostName localhost\n  Port {setup.target.port}\n")
    setup.known_hosts.write_text(setup.entry(setup.target, other_key()))
    await refused(collector(setup, "byname", accept_new=True))


async def test_accept_new_refuses_a_revoked_key(setup: Loopback) -> None:
    setup.known_hosts.write_text(f"@revoked * {setup.target.public_key}\n")
    await refused(collector(setup, accept_new=True))
    assert setup.known_hosts.read_text() == f"@revoked * {setup.target.public_key}\n"


async def test_accept_new_from_many_connections_at_once_records_one_line(
    setup: Loopback,
) -> None:
    setup.known_hosts.write_text("")
    await asyncio.gather(*(ok(collector(setup, accept_new=True)) for _ in range(4)))
    assert setup.known_hosts.read_text() == setup.entry(setup.target)


# -- what the operator is told: unknown and changed keys are different stories -------------------


async def test_an_unknown_host_key_says_so_and_names_the_option_that_records_it(
    setup: Loopback,
) -> None:
    setup.known_hosts.write_text(setup.entry(setup.jump))  # the target is not listed
    reason = (await refused(collector(setup))).reason or ""
    assert reason.startswith("unknown host key for target ([127.0.0.1]:")
    assert "--accept-new-host-keys" in reason and "SHA256:" in reason
    assert "CHANGED" not in reason and "\n" not in reason


async def test_a_changed_host_key_is_refused_naming_the_line_and_never_suggests_accepting(
    setup: Loopback,
) -> None:
    setup.known_hosts.write_text(
        "# pinned by the provisioning system\n"
        + setup.entry(setup.jump)
        + setup.entry(setup.target, other_key())
    )
    for accept_new in (False, True):
        reason = (await refused(collector(setup, accept_new=accept_new))).reason or ""
        assert reason.startswith("host key for target ([127.0.0.1]:")
        assert "has CHANGED: refused" in reason
        assert f"{setup.known_hosts} line 3" in reason
        assert "accept" not in reason.replace(str(setup.known_hosts), "").lower()
        assert "\n" not in reason


# -- ProxyJump ---------------------------------------------------------------------------------


@pytest.mark.parametrize("jump", ["jumpbox", "root@127.0.0.1:{port}"])
async def test_proxy_jump_follows_the_config_for_the_jump_host(setup: Loopback, jump: str) -> None:
    """An alias is resolved through its own stanza; ``user@address:port`` still gets the
    config's ``Host *`` (its UserKnownHostsFile), as ssh does."""
    spec = jump.format(port=setup.jump.port)
    setup.write_config(
        f"Host via\n  HostName 127.0.0.1\n  Port {setup.target.port}\n  ProxyJump {spec}\n"
    )
    await ok(collector(setup, "via"))


async def test_a_jump_host_with_a_changed_key_is_refused(setup: Loopback) -> None:
    setup.known_hosts.write_text(setup.entry(setup.jump, other_key()) + setup.entry(setup.target))
    setup.write_config(
        f"Host via\n  HostName 127.0.0.1\n  Port {setup.target.port}\n  ProxyJump jumpbox\n"
    )
    await refused(collector(setup, "via"))


# -- agent forwarding --------------------------------------------------------------------------


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A running ssh-agent as the operator's, with ``SSH_AUTH_SOCK`` pointing at it."""
    path = tmp_path / "agent.sock"
    process = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    monkeypatch.setenv("SSH_AUTH_SOCK", str(path))
    try:
        yield path
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


async def test_forward_agent_in_the_config_is_not_honoured(
    setup: Loopback, agent: Path, tmp_path: Path
) -> None:
    seen = tmp_path / "seen"
    python = tmp_path / "python3"  # notes what the probe's session sees, then runs the probe
    python.write_text(f'#!/bin/sh\necho "agent=$SSH_AUTH_SOCK" >> {seen}\nexec {PYTHON} "$@"\n')
    python.chmod(0o755)
    control = await asyncssh.connect(
        "127.0.0.1",
        setup.target.port,
        username="root",
        client_keys=[str(setup.client_key)],
        known_hosts=str(setup.known_hosts),
        agent_forwarding=True,
    )
    async with control:  # the check can see a forwarded agent when there is one
        await control.run(f"{python} -c pass")
    assert seen.read_text().splitlines()[0] != "agent="
    seen.unlink()

    setup.write_config("Host *\n  ForwardAgent yes\n")
    options = await HostOptions("target", str(setup.ssh_config)).resolve()
    assert options.config.get("ForwardAgent") is True
    await ok(collector(setup, python=str(python)))
    assert seen.read_text().splitlines() == ["agent="]


# -- a hostile server's words become a clean reason --------------------------------------------


class Hostile(asyncssh.SSHServer):
    """Says goodbye at once, with terminal escapes and a bidi override in its message."""

    code = asyncssh.DISC_PROTOCOL_ERROR

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        message = "go away \x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\u202eevil\nsecond line"
        asyncio.get_running_loop().call_soon(conn.disconnect, self.code, message)


@pytest.fixture
async def hostile_server(tmp_path: Path) -> AsyncIterator[int]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(
        Hostile, "127.0.0.1", 0, server_host_keys=[key], reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    known = tmp_path / "hostile_known_hosts"
    public = " ".join(key.export_public_key().decode().split()[:2])
    known.write_text(f"[127.0.0.1]:{port} {public}\n")
    (tmp_path / "hostile_config").write_text(
        f"Host hostile\n  HostName 127.0.0.1\n  Port {port}\n  User nobody\n"
        f"  UserKnownHostsFile {known}\n"
    )
    try:
        yield port
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (asyncssh.DISC_PROTOCOL_ERROR, "unreachable"),
        (asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE, "auth_failed"),
    ],
)
async def test_a_disconnect_message_becomes_a_clean_one_line_reason(
    hostile_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, status: str
) -> None:
    monkeypatch.setattr(Hostile, "code", code)
    collect = SshCollector(
        "hostile",
        FleetStore(),
        options=SshOptions(connect_timeout=5, ssh_config=str(tmp_path / "hostile_config")),
        handshakes=asyncio.Semaphore(1),
    )
    state = await collect.collect_for_snapshot(0)
    reason = state.reason or ""
    assert state.status == status
    assert "go away" in reason
    assert is_clean(reason), repr(reason)
