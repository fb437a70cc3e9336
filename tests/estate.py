"""A real test estate: N hosts as Linux network namespaces, each with its own real sshd.

Each host has its own network namespace (a veth on a bridge), its own hostname (UTS
namespace), its own mount namespace (empty files over the developer's rc files, so a login
shell costs nothing and ``python3`` is the system's), its own ed25519 host key, key-only
auth, and an entry in a pinned known_hosts. Addresses are in 198.18.0.0/22 (RFC 2544's
benchmarking range) and an "unreachable" route keeps anything from leaving the machine.

Everything is removed on exit, also when a test fails. Needs root, iproute2, openssh-server.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

NETWORK = "198.18.0.0/22"
BRIDGE_ADDRESS = "198.18.3.254"
BRIDGE = "aicbr0"
HOSTS_PER_BLOCK = 200
MAX_HOSTS = 3 * HOSTS_PER_BLOCK


def host_address(index: int) -> str:
    """Host 1 is 198.18.0.11, host 200 is 198.18.0.210, host 201 is 198.18.1.11, ...

    Each /24 keeps .211-.253 free: tests use them as addresses where nothing answers.
    """
    block, offset = divmod(index - 1, HOSTS_PER_BLOCK)
    return f"198.18.{block}.{11 + offset}"


SSHD = "/usr/sbin/sshd"

# Every estate uses the same bridge, namespaces and addresses, so two test runs on one machine
# (two checkouts, a bench beside the suite) must take turns: the lock is held from bring-up to
# teardown, and the kernel drops it if the holder dies.
LOCK = Path("/run/aiconsole-estate.lock")


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=30)


def available() -> str | None:
    """None if an estate can be built here, else why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "unshare", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    if not Path(SSHD).exists():
        return "openssh-server not installed"
    return None


def required(reason: str | None) -> pytest.MarkDecorator:
    """The mark for a module of estate tests: skip where the estate cannot be built, except
    under ``CI=true``, where a missing estate must fail the run instead of passing it with
    the only tests of SSH and Slurm skipped."""
    if reason is not None and os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        raise RuntimeError(f"CI is set but the test estate cannot be built here: {reason}")
    return pytest.mark.skipif(reason is not None, reason=f"estate: {reason}")


@dataclass
class Host:
    name: str
    index: int
    address: str
    netns: str
    veth: str
    directory: Path
    sshd: subprocess.Popen[bytes] | None = None


class Estate:
    def __init__(self, root: Path, count: int, prefix: str = "h") -> None:
        self.root = root
        self.hosts = [
            Host(
                name=f"{prefix}{n}",
                index=n,
                address=host_address(n),
                netns=f"aic-{prefix}{n}",
                veth=f"aicv{prefix}{n}",
                directory=root / "hosts" / f"{prefix}{n}",
            )
            for n in range(1, count + 1)
        ]
        if count > MAX_HOSTS:
            raise ValueError(f"this estate holds at most {MAX_HOSTS} hosts")
        self.keys = root / "keys"
        self.client_key = self.keys / "id_ed25519"
        self.wrong_key = self.keys / "id_wrong"
        self.known_hosts = self.keys / "known_hosts"
        self.ssh_config = self.keys / "ssh_config"
        self.empty_rc = root / "empty_rc"
        self.identity_overrides: dict[str, Path] = {}

    # -- bring-up ----------------------------------------------------------------------------

    def __enter__(self) -> Estate:
        self._lock = LOCK.open("a")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            self.up()
        except BaseException:
            self.down()
            self._lock.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.down()
        finally:
            self._lock.close()

    def up(self) -> None:
        self.down_network()  # leftovers of an interrupted run
        self.keys.mkdir(parents=True, exist_ok=True)
        self.empty_rc.write_text("")
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
        for key in (self.client_key, self.wrong_key):
            if not key.exists():
                run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
        (self.keys / "authorized_keys").write_text(self.client_key.with_suffix(".pub").read_text())
        run("ip", "route", "replace", "unreachable", NETWORK, "metric", "4000")
        run("ip", "link", "add", BRIDGE, "type", "bridge")
        run("ip", "addr", "add", f"{BRIDGE_ADDRESS}/22", "dev", BRIDGE)
        run("ip", "link", "set", BRIDGE, "up")
        for host in self.hosts:
            self._add_host(host)
        self.write_known_hosts()
        self.write_ssh_config()
        for host in self.hosts:
            self.start_sshd(host)
        self.wait_listening(self.hosts)

    def _add_host(self, host: Host) -> None:
        host.directory.mkdir(parents=True, exist_ok=True)
        run("ip", "netns", "add", host.netns)
        run(
            "ip",
            "link",
            "add",
            host.veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            host.netns,
        )
        run("ip", "link", "set", host.veth, "master", BRIDGE, "up")
        run("ip", "-n", host.netns, "addr", "add", f"{host.address}/22", "dev", "eth0")
        run("ip", "-n", host.netns, "link", "set", "lo", "up")
        run("ip", "-n", host.netns, "link", "set", "eth0", "up")
        self.new_host_key(host)
        (host.directory / "sshd_config").write_text(
            f"Port 22\nListenAddress {host.address}\n"
            f"HostKey {host.directory / 'ssh_host_ed25519_key'}\n"
            f"PidFile {host.directory / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.keys / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nUseDNS no\n"
            "PrintMotd no\nMaxStartups 256:30:512\n"
        )

    def new_host_key(self, host: Host) -> None:
        key = host.directory / "ssh_host_ed25519_key"
        for path in (key, key.with_suffix(".pub")):
            path.unlink(missing_ok=True)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", str(key))

    def write_known_hosts(self) -> None:
        lines = []
        for host in self.hosts:
            kind, key = (host.directory / "ssh_host_ed25519_key.pub").read_text().split()[:2]
            lines.append(f"{host.address} {kind} {key}\n")
        self.known_hosts.write_text("".join(lines))

    def write_ssh_config(self) -> None:
        text = (
            "Host *\n  User root\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.known_hosts}\n  GlobalKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 5\n"
            "  LogLevel ERROR\n"
        )
        for host in self.hosts:
            identity = self.identity_overrides.get(host.name, self.client_key)
            text += f"Host {host.name}\n  HostName {host.address}\n  IdentityFile {identity}\n"
        self.ssh_config.write_text(text)

    # -- per-host control --------------------------------------------------------------------

    def start_sshd(self, host: Host) -> None:
        """Start the host's sshd in its own UTS and mount namespaces (clean login shell)."""
        binds = " ".join(
            f"[ -e {rc} ] && mount --bind {self.empty_rc} {rc};"
            for rc in ("/root/.bashrc", "/root/.profile", "/root/.bash_profile")
        )
        script = (
            f"hostname {host.name}; {binds} "
            f"exec {SSHD} -D -f {host.directory / 'sshd_config'} -E {host.directory / 'sshd.log'}"
        )
        log = open(host.directory / "sshd.out", "ab")  # noqa: SIM115 - handed to the daemon
        host.sshd = subprocess.Popen(
            ["ip", "netns", "exec", host.netns, "unshare", "--uts", "--mount", "sh", "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def kill_sshd(self, host: Host) -> None:
        """Stop the host's sshd and every session it serves (as when the host loses sshd)."""
        self._signal_host(host, signal.SIGKILL)
        if host.sshd is not None:
            host.sshd.wait(timeout=10)
            host.sshd = None

    def kill_sessions(self, host: Host) -> None:
        """End every process on the host except its sshd listener (sessions, probes)."""
        keep = {str(host.sshd.pid)} if host.sshd is not None else set()
        for pid in run("ip", "netns", "pids", host.netns, check=False).stdout.split():
            if pid not in keep:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)

    def freeze(self, host: Host) -> None:
        """SIGSTOP everything on the host: it keeps its TCP connections but answers nothing."""
        self._signal_host(host, signal.SIGSTOP)

    def thaw(self, host: Host) -> None:
        self._signal_host(host, signal.SIGCONT)

    def _signal_host(self, host: Host, sig: signal.Signals) -> None:
        pids = run("ip", "netns", "pids", host.netns, check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), sig)

    def link(self, host: Host, up: bool) -> None:
        run("ip", "link", "set", host.veth, "up" if up else "down")

    def change_host_key(self, host: Host) -> None:
        """Give the host a new key (known_hosts keeps the old one) and restart its sshd."""
        self.kill_sshd(host)
        self.new_host_key(host)
        self.start_sshd(host)
        self.wait_listening([host])

    def restore_host_key(self, host: Host) -> None:
        self.write_known_hosts()

    def wait_listening(self, hosts: list[Host], limit: float = 30) -> None:
        deadline = time.monotonic() + limit
        pending = list(hosts)
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"sshd not listening on {[h.name for h in pending]}")
            still = []
            for host in pending:
                try:
                    with socket.create_connection((host.address, 22), timeout=0.5):
                        pass
                except OSError:
                    still.append(host)
            pending = still
            if pending:
                time.sleep(0.05)

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    # -- teardown ----------------------------------------------------------------------------

    def down(self) -> None:
        for host in self.hosts:
            self._signal_host(host, signal.SIGCONT)
            self._signal_host(host, signal.SIGKILL)
            if host.sshd is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    host.sshd.wait(timeout=10)
                host.sshd = None
        self.down_network()

    def down_network(self) -> None:
        for host in self.hosts:
            run("ip", "link", "del", host.veth, check=False)  # netns del is asynchronous
            run("ip", "netns", "del", host.netns, check=False)
        run("ip", "link", "del", BRIDGE, check=False)
        run("ip", "route", "del", "unreachable", NETWORK, "metric", "4000", check=False)
