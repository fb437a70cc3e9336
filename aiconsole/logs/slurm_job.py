"""Where a Slurm job writes its output, and reading it on the login host or the batch node.

``scontrol show job ID`` (one field per line) names the files: ``StdErr=``, ``StdIn=`` and
``StdOut=`` on three lines in a row. The job's owner chooses free text that comes before
them (the job name, the command, a comment) and could forge such lines to make the console
read another file, so the three-line block must occur exactly once, or nothing is read.
Recent Slurm prints the paths expanded; a path still holding ``%j``-style patterns is
expanded here the way sbatch does. Files are read with ``tail`` as an argument list (``--``
before the path), first on the cluster's own host, then on the job's batch node.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiconsole.logs.follow import until_ended
from aiconsole.logs.lines import LineCutter, LogUnavailable
from aiconsole.slurm import commands
from aiconsole.slurm.runner import CommandFailed, Runner, runner_for
from aiconsole.text import clean

MAX_TAIL_LINES = 100_000
# Job states in which the job may still write (any other one is over).
ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "SUSPENDED",
        "COMPLETING",
        "STAGE_OUT",
        "SIGNALING",
        "RESIZING",
        "REQUEUED",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "STOPPED",
        "RESV_DEL_HOLD",
    }
)


@dataclass(frozen=True)
class JobOutput:
    job_id: str
    state: str
    batch_host: str | None
    stdout: str
    stderr: str


_FILES = re.compile(r"\n[ \t]*StdErr=(.*)\n[ \t]*StdIn=.*\n[ \t]*StdOut=(.*)(?=\n|$)")
# Any line that starts like one of the three, wherever it is: each must occur once.
_FILE_LINES = re.compile(r"(?m)^[ \t]*(StdErr|StdIn|StdOut)=")
_STATE = re.compile(r"\n[ \t]*JobState=(\S+)")
_BATCH_HOST = re.compile(r"\n[ \t]*BatchHost=(\S+)[ \t]*(?:\n|$)")
_WORK_DIR = re.compile(r"\n[ \t]*WorkDir=(.*)(?:\n|$)")
_HEAD = re.compile(
    r"JobId=(?P<id>[0-9]+)(?: ArrayJobId=(?P<array>[0-9]+) ArrayTaskId=(?P<task>\S+))?"
    r"(?: \S+=\S+)* JobName=(?P<name>.*)\n[ \t]*UserId=(?P<user>[^(\s]*)"
)
# sbatch's filename patterns, with an optional zero-padding width (%4a).
_PATTERN = re.compile(r"%([0-9]?)([AaJjNnstux%])")


def parse_job_output(text: str, job_id: str) -> JobOutput:
    """``scontrol show job ID`` -> where the job writes, or :class:`LogUnavailable`."""
    records = [piece for piece in re.split(r"(?m)^(?=JobId=)", text) if piece.strip()]
    if not records:
        raise LogUnavailable(f"job {job_id}: scontrol printed no job")
    if len(records) > 1:
        raise LogUnavailable(
            f"job {job_id} is {len(records)} jobs (an array's tasks, or a heterogeneous "
            f"job's parts): name one, e.g. {job_id}_0"
        )
    record = records[0]
    head = _HEAD.match(record)
    files = _FILES.findall(record)
    keys = [match.group(1) for match in _FILE_LINES.finditer(record)]
    if head is None or len(files) != 1 or sorted(keys) != ["StdErr", "StdIn", "StdOut"]:
        raise LogUnavailable(f"job {job_id}: scontrol's output not understood (output paths)")
    stderr, stdout = (value.strip() for value in files[0])
    state = _STATE.search(record)
    batch = _BATCH_HOST.search(record)
    work_dir = _WORK_DIR.search(record)
    values = {
        "j": head.group("id"),
        "J": head.group("id"),
        "A": head.group("array") or head.group("id"),
        "a": head.group("task") or "4294967294",  # what sbatch puts for a job not in an array
        "u": head.group("user"),
        "x": head.group("name"),
        "N": batch.group(1) if batch else "",
        "n": "0",
        "s": "4294967294",
        "t": "0",
    }
    base = work_dir.group(1).strip() if work_dir else ""
    return JobOutput(
        job_id=job_id,
        state=state.group(1) if state else "UNKNOWN",
        batch_host=batch.group(1) if batch and batch.group(1) not in ("(null)", "") else None,
        stdout=resolve(stdout, values, base),
        stderr=resolve(stderr, values, base),
    )


def expand(path: str, values: dict[str, str]) -> str:
    """``/out/%x-%j.log`` -> ``/out/train-42.log`` (``%%`` is a ``%``)."""

    def one(match: re.Match[str]) -> str:
        width, key = match.groups()
        if key == "%":
            return "%"
        value = values[key]
        return value.zfill(int(width)) if width and value.isdigit() else value

    return _PATTERN.sub(one, path)


def resolve(path: str, values: dict[str, str], work_dir: str) -> str:
    if "%" in path:
        path = expand(path, values)
    if path and not path.startswith("/") and work_dir.startswith("/"):
        path = posixpath.join(work_dir, path)  # sbatch resolves relative names there
    return path


def tail_argv(path: str, lines: int, follow: bool) -> list[str]:
    if not path.startswith("/") or "\x00" in path:
        raise LogUnavailable(f"output path {clean(path, 200)!r} is not an absolute path")
    if not 0 <= lines <= MAX_TAIL_LINES:
        raise LogUnavailable(f"lines: 0 to {MAX_TAIL_LINES}")
    return ["tail", "-n", str(lines), *(["-F"] if follow else []), "--", path]


@dataclass
class JobLog:
    """The output file of one job, found and openable on ``runner`` (login host or node)."""

    output: JobOutput
    path: str
    runner: Runner
    opened_here: bool
    """Whether ``runner`` was opened for this log (a batch node's): closed with it."""
    cluster: Runner
    """Where the cluster's commands run (``scontrol`` may not exist on a batch node)."""
    timeout: float = 10.0
    quiet: float = 5.0
    """Seconds without output after which a follow asks whether the job has ended."""

    @property
    def where(self) -> str:
        return self.runner.where

    async def lines(self, count: int, follow: bool) -> AsyncIterator[str]:
        """The last ``count`` lines, then (``follow``) every new one, cleaned and bounded,
        until the job has ended and its last lines are in."""
        cutter = LineCutter()
        chunks = self.runner.stream(tail_argv(self.path, count, follow))
        if follow:
            chunks = until_ended(chunks, self.job_ended, self.quiet)
        try:
            async for chunk in chunks:
                for line in cutter.feed(chunk):
                    yield line
        except CommandFailed as error:
            raise LogUnavailable(f"job {self.output.job_id} output: {error}") from None
        for line in cutter.finish():
            yield line

    async def job_ended(self) -> bool:
        """Whether the job is over (finished, failed, cancelled, or gone from slurmctld);
        False when that cannot be told now (the follow goes on)."""
        try:
            result = await self.cluster.run(commands.show_job(self.output.job_id), self.timeout)
        except CommandFailed:
            return False
        if result.status != 0:
            return "Invalid job id" in result.error_line()
        state = _STATE.search(result.stdout)
        return state is not None and state.group(1) not in ACTIVE_STATES

    def close(self) -> None:
        if self.opened_here:
            self.runner.close()


async def open_job_log(
    runner: Runner,
    job_id: str,
    *,
    cluster: str,
    stderr: bool = False,
    timeout: float = 10.0,
    ssh_config: str | None = None,
) -> JobLog:
    """Find the job's output file and a host where it can be read: the cluster's own host
    (a shared file system), else the job's batch node (a node-local path)."""
    commands.check_job(job_id)
    try:
        result = await runner.run(commands.show_job(job_id), timeout)
    except CommandFailed as error:
        raise LogUnavailable(f"{cluster}: {error}") from None
    if result.status != 0:
        raise LogUnavailable(
            f"{cluster}: job {job_id}: {clean(result.error_line(), 300)} (on {runner.where})"
        )
    output = parse_job_output(result.stdout, job_id)
    path = output.stderr if stderr else output.stdout
    if not path or path == "/dev/null":
        which = "StdErr" if stderr else "StdOut"
        raise LogUnavailable(f"{cluster}: job {job_id} writes no {which} file ({path or 'none'})")
    if output.state == "PENDING":
        raise LogUnavailable(
            f"{cluster}: job {job_id} is pending: it has written nothing yet "
            f"(its output will be {clean(path, 300)})"
        )
    problems = []
    candidates: list[tuple[Runner, bool]] = [(runner, False)]
    if output.batch_host and output.batch_host != runner.where:
        try:
            candidates.append((runner_for(output.batch_host, ssh_config), True))
        except commands.InvalidArgument as error:
            problems.append(str(error))
    for candidate, opened in candidates:
        problem = await _readable(candidate, path, timeout)
        if problem is None:
            for other, other_opened in candidates:
                if other is not candidate and other_opened:
                    other.close()
            return JobLog(output, path, candidate, opened, runner, timeout)
        problems.append(f"{problem} (on {candidate.where})")
        if opened:
            candidate.close()
    raise LogUnavailable(
        f"{cluster}: job {job_id} output {clean(path, 300)} not readable: " + "; ".join(problems)
    )


async def _readable(runner: Runner, path: str, timeout: float) -> str | None:
    """None if ``path`` can be read on ``runner``'s host, else why not (one line)."""
    try:
        # One byte, not `tail -n 0` (which never opens the file): a missing file, a
        # directory or a permission problem each fail here with head's own words.
        result = await runner.run(["head", "-c", "1", "--", path], timeout)
    except CommandFailed as error:
        return clean(str(error), 300)
    if result.status != 0:
        return clean(result.error_line(), 300)
    return None


async def job_lines(
    runner: Runner,
    job_id: str,
    *,
    cluster: str,
    count: int,
    follow: bool,
    say: Callable[[str], None],
    stderr: bool = False,
    timeout: float = 10.0,
    ssh_config: str | None = None,
) -> AsyncIterator[str]:
    """The job's output lines; ``say`` is told once where they come from (a status line)."""
    log = await open_job_log(
        runner, job_id, cluster=cluster, stderr=stderr, timeout=timeout, ssh_config=ssh_config
    )
    try:
        which = "StdErr" if stderr else "StdOut"
        say(
            f"{clean(cluster, 80)}: job {job_id} ({clean(log.output.state, 40)}) {which} "
            f"{clean(log.path, 500)} on {log.where}"
        )
        async for line in log.lines(count, follow):
            yield line
    finally:
        log.close()
