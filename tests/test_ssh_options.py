"""Connection options resolved once per host and known_hosts parsed once per fleet."""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh
import pytest

from aiconsole.collectors.base import CollectionError
from aiconsole.collectors.ssh_options import HostOptions, KnownHostsCache


def host_key_line(pattern: str) -> tuple[str, asyncssh.SSHKey]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    public = key.export_public_key().decode().split()
    return f"{pattern} {public[0]} {public[1]}\n", key.convert_to_public()


def trusted(known: asyncssh.SSHKnownHosts, host: str, address: str) -> set[bytes]:
    """The public keys trusted for the host (matched by name or by address)."""
    return {key.public_data for key in known.match(host, address, None)[0]}


def test_known_hosts_are_parsed_once_and_reread_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    line, key = host_key_line("gpu01,198.18.0.11")
    path.write_text(line)
    cache = KnownHostsCache()
    first = cache.lookup([str(path)])
    assert cache.lookup([str(path)]) is first
    assert trusted(first, "gpu01", "198.18.0.11") == {key.public_data}

    new_line, new_key = host_key_line("gpu01,198.18.0.11")
    path.write_text(new_line)
    os.utime(path, ns=(0, 10**18))  # a rewrite within the same mtime tick still counts
    again = cache.lookup([str(path)])
    assert again is not first
    assert trusted(again, "gpu01", "198.18.0.11") == {new_key.public_data}


def test_no_known_hosts_file_means_no_key_is_trusted(tmp_path: Path) -> None:
    cache = KnownHostsCache()
    assert trusted(cache.lookup(None), "gpu01", "198.18.0.11") == set()
    assert trusted(cache.lookup([str(tmp_path / "missing")]), "gpu01", "198.18.0.11") == set()


def test_a_malformed_known_hosts_file_is_a_one_line_refusal(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text("gpu01\n")  # a host with no key: ssh would also stop here
    with pytest.raises(CollectionError) as raised:
        KnownHostsCache().lookup([str(path)])
    assert raised.value.status == "host_key_refused"
    assert str(path) in raised.value.reason


async def test_host_options_follow_the_ssh_config_and_its_changes(tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host gpu01\n  HostName 198.18.0.11\n  User alice\n  Port 2222\n")
    options = HostOptions("gpu01", str(config))
    first = await options.resolve()
    assert (first.config.get("Hostname"), first.config.get("User")) == ("198.18.0.11", "alice")
    assert await options.resolve() is first

    config.write_text("Host gpu01\n  HostName 198.18.0.12\n  User bob\n")
    os.utime(config, ns=(0, 10**18))
    second = await options.resolve()
    assert (second.config.get("Hostname"), second.config.get("User")) == ("198.18.0.12", "bob")


def test_jump_hops_parse_like_ssh() -> None:
    from aiconsole.collectors.ssh_connect import parse_jump

    assert parse_jump("bastion") == (None, "bastion", None)
    assert parse_jump("ops@bastion:2222") == ("ops", "bastion", 2222)
    assert parse_jump("ops@[fd00::1]:2200") == ("ops", "fd00::1", 2200)
    assert parse_jump("[fd00::1]") == (None, "fd00::1", None)
