"""Real OpenSSH ``sshd`` daemons on loopback ports, for tests of the SSH client side.

Each daemon listens on 127.0.0.1 on a free port other than 22 (so known_hosts names it
``[127.0.0.1]:PORT``) with its own host key and key-only root login; logins run on this
machine, so a test can give the console a probe interpreter of its own making.
Needs root and openssh-server.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def sshd_missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (sshd)"
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        return "openssh-server not installed"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Sshd:
    port: int
    public_key: str
    """``kind base64`` of its host key."""
    process: subprocess.Popen[bytes]


def start_sshd(directory: Path, authorized_keys: Path) -> Sshd:
    directory.mkdir(parents=True)
    key = directory / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile {directory / 'pid'}\n"
        f"AuthorizedKeysFile {authorized_keys}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nUseDNS no\nPrintMotd no\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    process = subprocess.Popen(
        [SSHD, "-D", "-f", str(config), "-E", str(directory / "log")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    public = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    return Sshd(port, public, process)


def client_key(directory: Path) -> tuple[Path, Path]:
    """A client key pair in ``directory`` and an authorized_keys file that accepts it."""
    key = directory / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    authorized = directory / "authorized_keys"
    authorized.write_text(key.with_suffix(".pub").read_text())
    return key, authorized
