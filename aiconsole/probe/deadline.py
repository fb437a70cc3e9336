"""Calls that can hang in the kernel or a driver, run in worker threads with a deadline."""

from __future__ import annotations

import _thread
import os

from aiconsole.probe.common import NETWORK_STATVFS_TIMEOUT_S
from aiconsole.probe.proc import statvfs_may_hang

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Hashable, List, Optional, Tuple


class CallTimedOut(Exception):
    """A call given to :class:`DeadlineRunner` did not return within its deadline, or
    (``earlier``) the previous call for its key is still stuck, so it was not made."""

    def __init__(self, deadline_s: float, earlier: bool) -> None:
        super().__init__(
            "still hung from an earlier sample"
            if earlier
            else "did not return within %.1f s" % deadline_s
        )
        self.earlier = earlier


class DeadlineRunner:
    """Runs calls that can hang in worker threads and waits for each at most a deadline.

    What it guards: NVML on a GPU that stopped answering, statvfs on a mount whose server is
    gone, /proc/PID/cmdline of a process stuck with its memory map locked. A call that misses
    its deadline keeps its thread; its key (the GPU, the mount, the PID) is answered "still
    hung" without being asked again until that call returns. So a call that never returns
    holds one thread for good, never one per sample, and every other key gets a free worker.
    """

    def __init__(self) -> None:
        self._idle: List[_Worker] = []
        self._stuck: Dict[Hashable, _Worker] = {}
        self.threads_started = 0

    def call(
        self, key: Hashable, deadline_s: float, function: Callable[..., Any], *args: Any
    ) -> Any:
        """``function(*args)``'s result or exception; CallTimedOut when it is late (or an
        earlier call for ``key`` still is)."""
        stuck = self._stuck.get(key)
        if stuck is not None:
            if stuck.running:
                raise CallTimedOut(deadline_s, earlier=True)
            stuck.settle()
            del self._stuck[key]
            self._idle.append(stuck)
        if not self._idle:
            self._reclaim()
        if self._idle:
            worker = self._idle.pop()
        else:
            worker = _Worker()
            self.threads_started += 1
        if not worker.run(function, args, deadline_s):
            self._stuck[key] = worker
            raise CallTimedOut(deadline_s, earlier=False)
        self._idle.append(worker)
        return worker.result()

    def _reclaim(self) -> None:
        """Take back the workers of late calls that have returned since, whether or not
        their keys are asked again (a process that has exited is not)."""
        for key, worker in list(self._stuck.items()):
            if not worker.running:
                worker.settle()
                del self._stuck[key]
                self._idle.append(worker)

    def hung(self) -> int:
        """How many calls are still stuck (each holds one thread)."""
        return sum(1 for worker in self._stuck.values() if worker.running)


class _Worker:
    """One daemon thread that runs one call at a time, handed over through two locks."""

    def __init__(self) -> None:
        self._wake = _thread.allocate_lock()
        self._wake.acquire()
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self._job: Any = None
        self._outcome: Tuple[bool, Any] = (True, None)
        self.running = False
        _thread.start_new_thread(self._serve, ())

    def _serve(self) -> None:
        while True:
            self._wake.acquire()
            function, args = self._job
            try:
                self._outcome = (True, function(*args))
            except BaseException as error:  # handed to the caller, never lost in this thread
                self._outcome = (False, error)
            self.running = False
            self._done.release()

    def run(self, function: Callable[..., Any], args: Tuple[Any, ...], deadline_s: float) -> bool:
        """Start the call; True when it finished within the deadline."""
        self._job = (function, args)
        self.running = True
        self._wake.release()
        return self._done.acquire(True, deadline_s)

    def settle(self) -> None:
        """Make a worker whose late call has finished reusable (its outcome is dropped)."""
        self._done.acquire()  # released right after ``running`` is cleared
        self._outcome = (True, None)

    def result(self) -> Any:
        ok, value = self._outcome
        self._outcome = (True, None)
        if ok:
            return value
        raise value


class StatvfsHung(OSError):
    """statvfs did not return in time: the mount's server is gone or unreachable."""


class StatvfsGuard:
    """statvfs that cannot hang the probe on a dead network, cluster or FUSE filesystem.

    Those (see statvfs_may_hang) are asked with a deadline; while an earlier call on a mount
    is still stuck, the mount is reported as hung without asking again.
    """

    def __init__(
        self,
        statvfs: Callable[[str], Any] = os.statvfs,
        timeout_s: float = NETWORK_STATVFS_TIMEOUT_S,
        runner: Optional[DeadlineRunner] = None,
    ) -> None:
        self._statvfs = statvfs
        self._timeout_s = timeout_s
        self._runner = runner

    def __call__(self, mount: str, fstype: str) -> Any:
        if not statvfs_may_hang(fstype):
            return self._statvfs(mount)
        if self._runner is None:
            self._runner = DeadlineRunner()
        try:
            return self._runner.call(("statvfs", mount), self._timeout_s, self._statvfs, mount)
        except CallTimedOut as late:
            if late.earlier:
                raise StatvfsHung("statvfs still hung from an earlier sample") from None
            raise StatvfsHung(
                "statvfs did not answer in %.1f s (server down?)" % self._timeout_s
            ) from None
