"""The user and command of the processes using a GPU."""

from __future__ import annotations

import os
import pwd
import time

from aiconsole.probe.common import (
    CMDLINE_DEADLINE_S,
    MAX_COMMAND_BYTES,
    MAX_PROCESSES_PER_GPU,
    MAX_PROCESSES_PER_SAMPLE,
    _is_number,
    clip,
    keep_first,
)
from aiconsole.probe.deadline import CallTimedOut, DeadlineRunner
from aiconsole.probe.host import Host
from aiconsole.probe.proc import parse_uid

# A process's cgroup file is a few lines; a hostile cgroup name is cut here.
MAX_CGROUP_BYTES = 4096

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Set, Tuple

    from aiconsole.probe.common import JsonDict, RawProcess


class ProcessInfo:
    """User, command line, CPU and memory of a PID, from /proc (user names cached)."""

    def __init__(
        self,
        host: Host,
        monotonic: Callable[[], float] = time.monotonic,
        runner: Optional[DeadlineRunner] = None,
    ) -> None:
        self._host = host
        self._monotonic = monotonic
        self._runner = runner
        self._users: Dict[int, str] = {}
        self._cpu_seen: Dict[int, Tuple[float, float]] = {}
        # The probe reads /proc, so it only ever runs on Linux, where sysconf always exists.
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")

    def describe(self, pid: int, kind: str, gpu_memory_bytes: Optional[int]) -> JsonDict:
        """A GPU process as the model has it."""
        cpu_percent, rss = self.usage(pid)
        return {
            "pid": pid,
            "kind": kind,
            "gpu_memory_bytes": gpu_memory_bytes,
            "user": self.user(pid),
            "command": self.command(pid),
            "cpu_percent": cpu_percent,
            "rss_bytes": rss,
            "workload": self.workload(pid),
        }

    def workload(self, pid: int) -> Optional[JsonDict]:
        """The Slurm job, pod or container of a process, from its cgroup path."""
        text = self._host.read("proc/%d/cgroup" % pid, False, MAX_CGROUP_BYTES)
        if not text:
            return None
        # Imported on first use: its patterns need re, which hosts without GPU processes
        # should not pay for at start-up.
        from aiconsole.probe.cgroup import workload_of

        found = workload_of(text)
        if found is None:
            return None
        return {
            key: clip(value) if isinstance(value, str) else value for key, value in found.items()
        }

    def usage(self, pid: int) -> Tuple[Optional[float], Optional[int]]:
        """CPU % of one core since this PID was last asked about, and resident memory."""
        stat = self._host.read("proc/%d/stat" % pid)
        statm = self._host.read("proc/%d/statm" % pid)
        rss = None
        if statm:
            fields = statm.split()
            if len(fields) > 1 and _is_number(fields[1]):
                rss = int(fields[1]) * self._page
        if not stat or ")" not in stat:
            self._cpu_seen.pop(pid, None)
            return None, rss
        # The command name may hold spaces and parentheses: fields start after the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        try:
            cpu_s = (int(fields[11]) + int(fields[12])) / float(self._ticks)
        except (IndexError, ValueError):
            return None, rss
        now = self._monotonic()
        previous = self._cpu_seen.get(pid)
        self._cpu_seen[pid] = (now, cpu_s)
        if previous is None or now <= previous[0] or cpu_s < previous[1]:
            return None, rss
        return round(100.0 * (cpu_s - previous[1]) / (now - previous[0]), 1), rss

    def forget_except(self, pids: Set[int]) -> None:
        """Drop CPU history of processes no longer on any GPU."""
        for pid in list(self._cpu_seen):
            if pid not in pids:
                del self._cpu_seen[pid]

    def user(self, pid: int) -> Optional[str]:
        status = self._host.read("proc/%d/status" % pid)
        uid = parse_uid(status) if status else None
        if uid is None:
            return None
        if uid not in self._users:
            try:
                self._users[uid] = clip(pwd.getpwuid(uid).pw_name)
            except KeyError:
                self._users[uid] = str(uid)
        return self._users[uid]

    def command(self, pid: int) -> Optional[str]:
        """The command line, clipped to MAX_COMMAND_BYTES.

        Reading it takes the process's memory-map lock, which a process stuck in the kernel
        (a page fault on a dead NFS server, say) can hold for minutes: it is read with a
        deadline, and a command line not read in time shows as ``[comm]``, as for a kernel
        thread (the name in /proc/PID/comm needs no such lock).
        """
        path = "proc/%d/cmdline" % pid
        if self._runner is None:
            self._runner = DeadlineRunner()
        try:
            # Every byte takes at least one byte as JSON: reading one past the bound is enough.
            raw = self._runner.call(
                ("cmdline", pid),
                CMDLINE_DEADLINE_S,
                self._host.read,
                path,
                False,
                MAX_COMMAND_BYTES + 1,
            )
        except CallTimedOut:
            raw = None
        if not raw:
            # Kernel threads and zombies have an empty cmdline; comm is the best we have.
            comm = self._host.read("proc/%d/comm" % pid)
            return clip("[%s]" % comm.strip()) if comm else None
        return clip(raw.rstrip("\0").replace("\0", " "), MAX_COMMAND_BYTES)


def describe_processes(gpus: List[JsonDict], info: ProcessInfo, truncated: Dict[str, str]) -> None:
    """Replace each GPU's raw ``(pid, kind, GPU memory)`` list by the model's processes.

    Each GPU keeps the processes using the most GPU memory, up to a share of
    MAX_PROCESSES_PER_SAMPLE; a process on several GPUs is read from /proc once.
    """
    share = MAX_PROCESSES_PER_SAMPLE // max(1, len(gpus))
    limit = max(1, min(MAX_PROCESSES_PER_GPU, share))
    described: Dict[int, JsonDict] = {}
    for gpu in gpus:
        raw: Optional[List[RawProcess]] = gpu.get("processes")
        if raw is None:
            continue
        raw.sort(key=lambda process: (-(process[2] or 0), process[0]))
        what = "gpu%s.processes" % gpu["index"]
        kept = keep_first(raw, limit, what, truncated, " (most GPU memory first)")
        processes = []
        for pid, kind, used in sorted(kept):
            if pid not in described:
                described[pid] = info.describe(pid, kind, used)
            processes.append(dict(described[pid], kind=kind, gpu_memory_bytes=used))
        gpu["processes"] = processes
    info.forget_except(set(described))
