"""A real Slurm cluster on the test estate: a controller host running ``slurmctld`` and node
hosts running ``slurmd`` (Debian's slurm-wlm), each host also a real sshd host.

Fake GPUs come from gres.conf (four per node, symlinks to /dev/null), so jobs get real GPU
indices. State is wiped on every bring-up, daemons write to files (never to our pipes), and
every readiness loop has a deadline: a Slurm client facing a dead slurmctld takes ~9 s to fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.estate import Estate, Host, run

SLURMCTLD = "/usr/sbin/slurmctld"
SLURMD = "/usr/sbin/slurmd"
MUNGED = "/usr/sbin/munged"
GPUS_PER_NODE = 4


def slurm_available() -> str | None:
    """None if a Slurm estate can be built here, else why not."""
    for program in (SLURMCTLD, SLURMD, MUNGED, "/usr/bin/sinfo"):
        if not Path(program).exists():
            return f"{program} not installed (apt-get install slurmctld slurmd slurm-client munge)"
    return None


class SlurmEstate(Estate):
    """``ctl`` (slurmctld) plus ``node1..nodeN`` (slurmd), partition ``main`` with all nodes."""

    def __init__(self, root: Path, nodes: int) -> None:
        super().__init__(root, nodes + 1, prefix="s")
        names = ["ctl", *(f"node{n}" for n in range(1, nodes + 1))]
        for host, name in zip(self.hosts, names, strict=True):
            host.name = name
            host.netns = f"aic-{name}"
            host.veth = f"aicv{name}"
            host.directory = root / "hosts" / name
        self.controller = self.hosts[0]
        self.nodes = self.hosts[1:]
        self.slurm_dir = root / "slurm"
        self.conf = self.slurm_dir / "etc" / "slurm.conf"
        # munged insists every directory above its socket is o+x; pytest's temporary
        # directories are 0700, so the socket lives under /run instead.
        self.munge = Path("/run") / f"aiconsole-munge-{os.getpid()}-{root.name}"
        self.daemons: dict[str, subprocess.Popen[bytes]] = {}
        self.jobs = root / "jobs"

    @property
    def env(self) -> dict[str, str]:
        """Environment for running Slurm's clients from the test process."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def up(self) -> None:
        self._stop_daemons()
        self._start_munge()
        self._write_slurm_config()
        super().up()
        self.start_slurmctld()
        for node in self.nodes:
            self.start_slurmd(node)
        self.wait_nodes_idle()

    def _add_host(self, host: Host) -> None:
        super()._add_host(host)
        if host is self.controller:
            # Remote Slurm commands over ssh find the cluster's config through this.
            with (host.directory / "sshd_config").open("a") as config:
                config.write(f"SetEnv SLURM_CONF={self.conf}\n")

    # -- munge and slurm config ----------------------------------------------------------------

    def _start_munge(self) -> None:
        shutil.rmtree(self.munge, ignore_errors=True)
        self.munge.mkdir(parents=True)
        self.munge.chmod(0o755)  # the socket's directory must be o+x
        key = self.munge / "munge.key"
        run("mungekey", "--create", f"--keyfile={key}")
        key.chmod(0o600)
        run(
            MUNGED,
            f"--socket={self.munge / 'munge.sock'}",
            f"--key-file={key}",
            f"--log-file={self.munge / 'munged.log'}",
            f"--pid-file={self.munge / 'munged.pid'}",
            f"--seed-file={self.munge / 'munged.seed'}",
        )

    def _write_slurm_config(self) -> None:
        shutil.rmtree(self.slurm_dir, ignore_errors=True)  # old state would bring back old drains
        for part in ("etc", "state", "run", "log", "fakedev"):
            (self.slurm_dir / part).mkdir(parents=True)
        self.jobs.mkdir(parents=True, exist_ok=True)
        for gpu in range(GPUS_PER_NODE):
            (self.slurm_dir / "fakedev" / f"nvidia{gpu}").symlink_to("/dev/null")
        for node in self.nodes:
            (self.slurm_dir / "spool" / node.name).mkdir(parents=True)
        s = self.slurm_dir
        node_lines = "\n".join(
            f"NodeName={node.name} NodeAddr={node.address} CPUs=4 RealMemory=2000 "
            f"Gres=gpu:{GPUS_PER_NODE} State=UNKNOWN"
            for node in self.nodes
        )
        self.conf.write_text(
            f"""ClusterName=estate
SlurmctldHost=ctl({self.controller.address})
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge / "munge.sock"}
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation={s / "state"}
SlurmdSpoolDir={s / "spool"}/%n
SlurmctldPidFile={s / "run"}/slurmctld.pid
SlurmdPidFile={s / "run"}/slurmd-%n.pid
SlurmctldLogFile={s / "log"}/slurmctld.log
SlurmdLogFile={s / "log"}/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
SlurmdParameters=config_overrides
ReturnToService=1
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
{node_lines}
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
        )
        (s / "etc" / "gres.conf").write_text(
            "AutoDetect=off\n"
            f"NodeName={','.join(n.name for n in self.nodes)} Name=gpu "
            f"File={s / 'fakedev'}/nvidia[0-{GPUS_PER_NODE - 1}]\n"
        )

    # -- daemons ---------------------------------------------------------------------------

    def _daemon(self, key: str, host: Host, argv: list[str]) -> None:
        log = open(self.slurm_dir / "log" / f"{key}.out", "ab")  # noqa: SIM115 - the daemon's
        self.daemons[key] = subprocess.Popen(
            [
                # nsenter, not "ip netns exec": that remounts /sys, hiding the cgroup
                # mounts slurmd needs ("No filesystem mounted on /sys/fs/cgroup").
                *("nsenter", f"--net=/run/netns/{host.netns}", "unshare", "--uts", "sh", "-c"),
                f'hostname {host.name}; exec "$@"',
                "sh",
                *argv,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=self.env,
        )
        log.close()

    def start_slurmctld(self) -> None:
        self._daemon("slurmctld", self.controller, [SLURMCTLD, "-D", "-f", str(self.conf)])
        self.wait_port(self.controller.address, 6817)

    def stop_slurmctld(self) -> None:
        self._stop("slurmctld")

    def start_slurmd(self, node: Host) -> None:
        self._daemon(f"slurmd-{node.name}", node, [SLURMD, "-D", "-f", str(self.conf)])

    def _stop(self, key: str) -> None:
        process = self.daemons.pop(key, None)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)

    def _stop_daemons(self) -> None:
        for key in list(self.daemons):
            self._stop(key)
        pid_file = self.munge / "munged.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)

    def down(self) -> None:
        self._stop_daemons()
        super().down()
        shutil.rmtree(self.munge, ignore_errors=True)

    # -- readiness and helpers -------------------------------------------------------------

    @staticmethod
    def wait_port(address: str, port: int, limit: float = 30) -> None:
        deadline = time.monotonic() + limit
        while True:
            try:
                with socket.create_connection((address, port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nothing listening on {address}:{port}") from None
                time.sleep(0.1)

    def slurm(self, *argv: str, check: bool = True, timeout: float = 20) -> str:
        """Run a Slurm client command here (the root namespace) against the estate."""
        result = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {result.stderr.strip()}")
        return result.stdout

    def node_state(self, name: str) -> str:
        """``State=`` of ``scontrol show node`` (e.g. ``MIXED+DRAIN``)."""
        text = self.slurm("scontrol", "show", "node", name, "-o")
        return next(f[6:] for f in text.split() if f.startswith("State="))

    def job_field(self, job: str, field: str) -> str:
        text = self.slurm("scontrol", "show", "job", job, "-o")
        return next(f.split("=", 1)[1] for f in text.split() if f.startswith(field + "="))

    def wait_until(self, condition: object, what: str, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while not condition():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not happen within {limit} s")
            time.sleep(0.2)

    def wait_nodes_idle(self, limit: float = 60) -> None:
        def all_idle() -> bool:
            try:
                out = self.slurm("sinfo", "-h", "-N", "-t", "idle", "-o", "%N", timeout=12)
            except (RuntimeError, subprocess.TimeoutExpired):
                return False
            return len(out.split()) == len(self.nodes)

        self.wait_until(all_idle, "all slurmd nodes idle", limit)

    def submit(self, *options: str, seconds: int = 600) -> str:
        """sbatch a sleeping job; its id."""
        out = self.slurm(
            "sbatch",
            "--parsable",
            f"--chdir={self.jobs}",
            f"--output={self.jobs}/slurm-%j.out",
            *options,
            f"--wrap=sleep {seconds}",
        )
        return out.strip().split(";")[0]
