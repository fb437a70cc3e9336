"""Connection options for many hosts, resolved once and re-read only when their files change.

asyncssh re-reads ``~/.ssh/config`` and every known_hosts file on each connection. That is
right for one connection and quadratic for a fleet: with 256 hosts and a known_hosts of 256
keys, each (re)connect of each host re-parses 256 keys and the whole config. Here the config
files are split once per fleet and evaluated once per host (:mod:`.ssh_config`), and the
known_hosts files are parsed once per fleet; a file whose size, mtime or inode changes is
read again, so fixing known_hosts or the config takes effect at the next reconnect, as it
would with ssh.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from pathlib import Path

import asyncssh

from aiconsole.collectors import ssh_config
from aiconsole.collectors.base import CollectionError
from aiconsole.collectors.ssh_config import FileStamp, stamp
from aiconsole.text import clean

DEFAULT_CONFIG = "~/.ssh/config"
DEFAULT_KNOWN_HOSTS = ("~/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts")
"""Where ssh looks when the config names no UserKnownHostsFile / GlobalKnownHostsFile."""


def config_files(ssh_config: str | None) -> list[str]:
    """The client config files to read: the one configured, else ~/.ssh/config if present."""
    if ssh_config is not None:
        return [str(Path(ssh_config).expanduser())]
    default = Path(DEFAULT_CONFIG).expanduser()
    return [str(default)] if os.access(default, os.R_OK) else []


def known_hosts_paths(files: object) -> list[str]:
    """The known_hosts files to read, from asyncssh's resolved ``known_hosts`` option (a
    list, one name, ``None`` for ``UserKnownHostsFile none``, or empty for ssh's defaults)."""
    if files is None:
        return []
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, Sequence) or not all(isinstance(f, str) for f in files):
        raise TypeError(f"expected known_hosts file names, got {files!r}")
    return [str(Path(f).expanduser()) for f in files] or [
        str(Path(f).expanduser()) for f in DEFAULT_KNOWN_HOSTS
    ]


class KnownHostsCache:
    """Parsed known_hosts files, shared by every host of a fleet."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[FileStamp, ...], asyncssh.SSHKnownHosts] = {}

    def lookup(self, files: object) -> asyncssh.SSHKnownHosts:
        """The trusted keys from ``files`` as asyncssh resolved them from the config.

        ``None`` is ``UserKnownHostsFile none``: with strict checking that trusts no key at
        all (asyncssh would take it as "check nothing"). An empty list means ssh's defaults.
        """
        if files is None:
            return asyncssh.SSHKnownHosts()
        paths = known_hosts_paths(files)
        key = tuple(stamp(p) for p in paths)
        known = self._loaded.get(key)
        if known is None:
            known = asyncssh.SSHKnownHosts()
            for path, mtime, _, _ in key:
                if mtime is None:
                    continue  # a missing file trusts nothing, as with ssh
                try:
                    known.load(Path(path).read_text(errors="replace"))
                except (OSError, ValueError) as error:
                    raise CollectionError(
                        "host_key_refused", clean(f"cannot read known_hosts file {path}: {error}")
                    ) from None
            # Keep only the latest version of each file set: old ones are never asked again.
            self._loaded = {k: v for k, v in self._loaded.items() if k[0][0] != paths[0]}
            self._loaded[key] = known
        return known


class HostOptions:
    """One host's asyncssh options, evaluated from the client config once per config version.

    The config files are split once for the whole fleet (:mod:`aiconsole.collectors.ssh_config`)
    and evaluated here for this host; a config that needs what only asyncssh evaluates (``Match
    exec``, canonicalisation, ...) is evaluated by asyncssh for this host, as ssh would.
    """

    def __init__(
        self,
        name: str,
        ssh_config: str | None,
        *,
        username: str | None = None,
        port: int | None = None,
    ) -> None:
        self.name = name
        self._ssh_config = ssh_config
        # What a ProxyJump hop says over the config (``user@host:port``), as with ssh -J.
        self._user = username
        self._port = port
        self._key: object = None
        self._options: asyncssh.SSHClientConnectionOptions | None = None

    def _overrides(self) -> dict[str, object]:
        overrides: dict[str, object] = {}
        if self._user is not None:
            overrides["username"] = self._user
        if self._port is not None:
            overrides["port"] = self._port
        return overrides

    async def resolve(self) -> asyncssh.SSHClientConnectionOptions:
        files = config_files(self._ssh_config)
        try:
            fleet = ssh_config.load(files)
            key: object = fleet if fleet is not None else tuple(stamp(f) for f in files)
            if self._options is not None and (key is self._key or key == self._key):
                return self._options
            if fleet is not None:
                self._options = self._from_fleet(fleet)
            else:
                # Parsing runs in a thread (asyncssh's construct), so the event loop never waits.
                self._options = await asyncssh.SSHClientConnectionOptions.construct(
                    config=files, host=self.name, agent_forwarding=False, **self._overrides()
                )
        except (OSError, ValueError, asyncssh.Error) as error:
            raise CollectionError(
                "unreachable", clean(f"ssh config for {self.name}: {error}")
            ) from None
        self._key = key
        return self._options

    def _from_fleet(self, fleet: ssh_config.FleetConfig) -> asyncssh.SSHClientConnectionOptions:
        resolved = fleet.resolve(self.name, local_user(), self._user, self._port)
        return ssh_config.client_config(
            resolved,
            host=self.name,
            # The console never needs the operator's agent on a host: a ``ForwardAgent yes``
            # in the config would expose it there all session.
            agent_forwarding=False,
            **self._overrides(),
        )


def local_user() -> str:
    """The user ssh runs as (``%u``, ``Match localuser``); asyncssh's error when unknown."""
    try:
        return getpass.getuser()
    except KeyError:
        raise ValueError("unknown local user name: set LOGNAME or USER") from None
