"""A machine at an inventory address that is not a friendly sshd: what it says before any
authentication becomes the host's reason, and reaches the operator cleaned.

The server here is a few lines on 127.0.0.1 that speak just enough SSH to send a disconnect
message carrying escape sequences (the real OpenSSH client and asyncssh both report such a
message's text to the user).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aiconsole.cli_text import format_checks
from aiconsole.collectors.ssh import SshCollector, SshOptions
from aiconsole.store import FleetStore
from aiconsole.text import is_clean

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"
RLO = "\u202e"
SAYS = f"maintenance{OSC52}{RLO}\x1b[2J"
SSH_MSG_DISCONNECT = 1


def disconnect_packet(description: str) -> bytes:
    """An unencrypted SSH binary packet (before key exchange): SSH_MSG_DISCONNECT."""
    text = description.encode()
    payload = (
        struct.pack(">BI", SSH_MSG_DISCONNECT, 11)  # 11: "by application"
        + struct.pack(">I", len(text))
        + text
        + struct.pack(">I", 0)  # language tag
    )
    padding = 8 - (len(payload) + 5) % 8
    padding += 8 if padding < 4 else 0
    return struct.pack(">IB", len(payload) + padding + 1, padding) + payload + bytes(padding)


@pytest.fixture
async def hostile_server(tmp_path: Path) -> AsyncIterator[Path]:
    """An ssh config naming ``evil`` at a local port whose server only says goodbye."""

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
        await reader.readline()  # the client's version line
        writer.write(disconnect_packet(SAYS))
        await writer.drain()
        await reader.read()  # until the client hangs up
        writer.close()

    server = await asyncio.start_server(talk, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host evil\n  HostName 127.0.0.1\n  Port {port}\n"
        f"  UserKnownHostsFile {tmp_path / 'known_hosts'}\n"
    )
    async with server:
        yield config


async def test_what_a_server_says_before_authentication_reaches_the_store_cleaned(
    hostile_server: Path,
) -> None:
    store = FleetStore()
    collector = SshCollector(
        "evil",
        store,
        options=SshOptions(ssh_config=str(hostile_server), connect_timeout=5),
        handshakes=asyncio.Semaphore(1),
    )
    state = await collector.collect_once()
    assert state.status == "unreachable"
    assert state.reason is not None and "maintenance" in state.reason
    assert is_clean(state.reason) and "\x1b" not in state.reason
    assert "maintenance␛]52;c;cm0gLXJmIH4=␇␛[2J" in state.reason
    check = await collector.check()
    assert check.reason is not None and "maintenance" in check.reason
    output = format_checks([check])
    assert "\x1b" not in output and RLO not in output
