"""Host key checking for hosts that known_hosts does not vouch for: refuse, or ssh's accept-new.

asyncssh checks the server's key against known_hosts itself (a ``@revoked`` key is refused
before anything here runs) and asks :meth:`HostKeyPolicy.validate_host_public_key` only about a
key that no entry trusts. The decision is taken there, on the connection being made, with the
host name, address and port the key was offered for, as OpenSSH takes it:

- a host with any entry at all (by name or address, as ``[host]:port`` for a port other than
  22, as a plain key, a ``@cert-authority`` or a ``@revoked`` line) has a *changed* key:
  refused, whatever the policy;
- a host with no entry, under accept-new: the key is appended to the first user known_hosts
  file (``[host]:port`` for a port other than 22, as OpenSSH writes it), under an exclusive
  lock, after reading the file again under that lock, so two consoles or two aliases of one
  host never record two different keys.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

import asyncssh

DEFAULT_PORT = 22


def known_pattern(host: str, port: int) -> str:
    """How known_hosts names a host: ``host``, or ``[host]:port`` off the default port."""
    return host if port == DEFAULT_PORT else f"[{host}]:{port}"


def has_entry(known: asyncssh.SSHKnownHosts, host: str, addr: str, port: int) -> bool:
    """True if any known_hosts line names this host, its address or its ``[host]:port``."""
    matched = known.match(host, addr, None if port == DEFAULT_PORT else port)
    return any(matched)


class KeyChanged(Exception):
    """known_hosts gained another key for the host while this one was being recorded."""


def record_host_key(path: Path, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
    """Append ``key`` for the host to ``path``; False if the file already trusts that key.

    The file is locked for the whole read-check-append, so concurrent recorders serialise.
    """
    kind, data = key.export_public_key("openssh").decode().split()[:2]
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "r+", encoding="utf-8", errors="replace") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        handle.seek(0)
        current = asyncssh.SSHKnownHosts()
        # A line asyncssh cannot parse was refused at lookup time already.
        with contextlib.suppress(ValueError):
            current.load(handle.read())
        trusted, ca_keys, revoked = current.match(
            host, addr, None if port == DEFAULT_PORT else port
        )[:3]
        if any(k.public_data == key.public_data for k in trusted):
            return False
        if trusted or ca_keys or revoked:
            raise KeyChanged(f"known_hosts now lists another key for {host}")
        handle.write(f"{known_pattern(host, port)} {kind} {data}\n")
        handle.flush()
        os.fsync(handle.fileno())
    return True


def entry_lines(paths: list[str], host: str, addr: str, port: int) -> list[tuple[str, int]]:
    """Each known_hosts line (file, line number) that names this host in any way.

    Read again line by line only when a key is refused, to say which line stands against it.
    """
    found = []
    wanted = None if port == DEFAULT_PORT else port
    for path in paths:
        try:
            lines = Path(path).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            one = asyncssh.SSHKnownHosts()
            try:
                one.load(line)
            except ValueError:
                continue
            if any(one.match(host, addr, wanted)):
                found.append((path, number))
    return found


def describe(name: str, host: str, addr: str, port: int) -> str:
    """The host as the operator named it, then as known_hosts would: ``gpu01 ([10.0.0.1]:22)``."""
    seen = [p for p in (known_pattern(host, port), addr) if p and p != name]
    return name + (f" ({', '.join(dict.fromkeys(seen))})" if seen else "")


def unknown_key_message(name: str, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> str:
    where = describe(name, host, addr, port)
    return (
        f"unknown host key for {where}: no known_hosts line lists it; check its fingerprint "
        f"{key.get_fingerprint('sha256')} and rerun with --accept-new-host-keys to record it"
    )


def changed_key_message(
    name: str,
    host: str,
    addr: str,
    port: int,
    key: asyncssh.SSHKey,
    lines: list[tuple[str, int]],
) -> str:
    where = describe(name, host, addr, port)
    listed = ", ".join(f"{path} line {number}" for path, number in lines[:3])
    return (
        f"host key for {where} has CHANGED: refused. It offered "
        f"{key.get_fingerprint('sha256')}, which does not match {listed or 'known_hosts'}; "
        "this can be an attack: find out why the key changed before touching that line"
    )


class HostKeyPolicy(asyncssh.SSHClient):
    """The client side of one connection: decides about keys known_hosts does not trust."""

    def __init__(
        self,
        known: asyncssh.SSHKnownHosts,
        accept_new: bool,
        record_in: Path,
        known_hosts_files: list[str] | None = None,
        name: str = "",
    ) -> None:
        self._name = name
        self._known = known
        self._accept_new = accept_new
        self._record_in = record_in
        self._files = known_hosts_files or [str(record_in)]
        self.notice: str | None = None
        """Set when a new key was accepted: what to tell the operator."""
        self.refusal: str | None = None
        """Set when a key is refused: why, in one line (shown instead of asyncssh's text).
        An unknown key names ``--accept-new-host-keys``; a changed one never suggests
        accepting anything, and names the known_hosts line(s) it contradicts."""

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        if has_entry(self._known, host, addr, port):
            # A known host offering another key: refused, whatever the policy.
            lines = entry_lines(self._files, host, addr, port)
            self.refusal = changed_key_message(self._name or host, host, addr, port, key, lines)
            return False
        if not self._accept_new:
            self.refusal = unknown_key_message(self._name or host, host, addr, port, key)
            return False
        try:
            recorded = record_host_key(self._record_in, host, addr, port, key)
        except KeyChanged as error:
            self.refusal = str(error)
            return False
        except OSError as error:
            self.refusal = f"could not record the new host key in {self._record_in}: {error}"
            return False
        fingerprint = key.get_fingerprint("sha256")
        if recorded:
            self.notice = f"accepted new host key {fingerprint}, recorded in {self._record_in}"
        return True
