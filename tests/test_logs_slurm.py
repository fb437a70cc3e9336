"""A running Slurm job's own output, followed: `aiconsole logs` and the TUI's log view, on the
real Slurm estate (slurmctld + one slurmd), read over SSH on the controller host.

The job writes a few lines (one of them hostile: escape sequences and Rich markup), then
waits for a trigger file before writing one more, so "a new line appears while following"
is shown by an event the test causes, never by a clock.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiconsole.collectors.slurm import SlurmCollector
from aiconsole.slurm.runner import SshRunner
from aiconsole.store import FleetStore
from tests.conftest import REPO, run_aiconsole
from tests.estate import available, required
from tests.slurm_estate import SlurmEstate, slurm_available

pytestmark = required(available() or slurm_available())

HOSTILE = "\x1b[31mred\x1b]52;c;cHduZWQ=\x07 [bold]markup[/bold] \x9b2J"
# The job's script: a hostile line, five numbered lines, then one more once the trigger exists.
SCRIPT = (
    "printf 'hostile %s\\n' \"$HOSTILE\"; "
    "for i in 1 2 3 4 5; do echo line $i; done; "
    'while [ ! -e "$TRIGGER" ]; do sleep 0.2; done; echo after trigger; sleep 600'
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmEstate]:
    with SlurmEstate(tmp_path_factory.mktemp("slurm-logs"), nodes=1) as estate:
        yield estate


@pytest.fixture
def config(cluster: SlurmEstate, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[settings]\nssh_config = "{cluster.ssh_config}"\naudit_log = "{tmp_path}/audit"\n'
        '[clusters]\nestate = "ctl"\n'
    )
    yield path
    cluster.slurm("scancel", "--user=root", check=False)
    cluster.wait_until(
        lambda: not cluster.slurm("squeue", "-h", "-o", "%i").strip(), "queue empty", 30
    )


def talker(cluster: SlurmEstate, trigger: Path, output: str = "talk-%x-%j.out") -> str:
    """A running job that has written its first lines; its id."""
    env = {**cluster.env, "HOSTILE": HOSTILE, "TRIGGER": str(trigger)}
    result = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--export=ALL",
            f"--chdir={cluster.jobs}",
            f"--output={cluster.jobs}/{output}",
            "-J",
            "talker",
            f"--wrap={SCRIPT}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    job = result.stdout.strip().split(";")[0]
    written = cluster.jobs / output.replace("%x", "talker").replace("%j", job)
    cluster.wait_until(
        lambda: written.exists() and "line 5" in written.read_text(errors="replace"),
        "the job's first lines",
    )
    return job


def aiconsole(config: Path, *args: str) -> tuple[int, str, str]:
    return run_aiconsole("--config", str(config), *args, env=dict(os.environ))


def test_logs_prints_the_last_lines_of_a_running_job(
    cluster: SlurmEstate, config: Path, tmp_path: Path
) -> None:
    job = talker(cluster, tmp_path / "never")
    code, stdout, stderr = aiconsole(config, "logs", job, "--lines", "3")
    assert code == 0, stderr
    assert stdout.splitlines() == ["line 3", "line 4", "line 5"]
    # Where the lines came from goes to stderr, the %x/%j pattern expanded to the real file.
    assert f"talk-talker-{job}.out on ctl" in stderr


def test_a_hostile_line_is_cleaned_and_markup_stays_text(
    cluster: SlurmEstate, config: Path, tmp_path: Path
) -> None:
    job = talker(cluster, tmp_path / "never")
    code, stdout, stderr = aiconsole(config, "logs", job, "--cluster", "estate")
    assert code == 0, stderr
    first = stdout.splitlines()[0]
    assert "\x1b" not in stdout and "\x07" not in stdout and "\x9b" not in stdout
    assert first == "hostile ␛[31mred␛]52;c;cHduZWQ=␇ [bold]markup[/bold] \\x9b2J"


def test_follow_prints_a_line_written_after_it_started(
    cluster: SlurmEstate, config: Path, tmp_path: Path
) -> None:
    trigger = tmp_path / "trigger"
    job = talker(cluster, trigger)
    follower = subprocess.Popen(
        [sys.executable, "-m", "aiconsole", "--config", str(config), "logs", job, "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert follower.stdout is not None
    threading.Thread(
        target=lambda: [lines.put(line.rstrip("\n")) for line in follower.stdout or ()],
        daemon=True,
    ).start()

    def wait_line(wanted: str) -> None:
        while True:
            try:
                line = lines.get(timeout=30)
            except queue.Empty:
                follower.kill()
                raise AssertionError(f"{wanted!r} never came: {follower.stderr}") from None
            if line == wanted:
                return

    try:
        wait_line("line 5")  # the last lines at once
        trigger.touch()
        wait_line("after trigger")  # then what the job writes next
        assert follower.poll() is None  # still following
    finally:
        follower.terminate()
        follower.wait(timeout=10)


def test_unknown_job_unreadable_file_and_unknown_cluster_say_what_and_where(
    cluster: SlurmEstate, config: Path
) -> None:
    code, stdout, stderr = aiconsole(config, "logs", "999999")
    assert (code, stdout) == (1, "")
    assert len(stderr.splitlines()) == 1 and "999999" in stderr and "on ctl" in stderr
    assert "Traceback" not in stderr

    # Slurm cannot create this file (the job fails), yet scontrol still names it.
    job = cluster.slurm(
        "sbatch",
        "--parsable",
        f"--chdir={cluster.jobs}",
        "--output=/nonexistent-dir/out.txt",
        "--wrap=true",
    ).strip()
    cluster.wait_until(lambda: cluster.job_field(job, "JobState") != "PENDING", "job started")
    code, stdout, stderr = aiconsole(config, "logs", job)
    assert (code, stdout) == (1, "")
    assert len(stderr.splitlines()) == 1
    assert "/nonexistent-dir/out.txt not readable" in stderr and "(on ctl)" in stderr

    code, _, stderr = aiconsole(config, "logs", job, "--cluster", "nope")
    assert code == 1 and "no Slurm cluster 'nope'" in stderr and len(stderr.splitlines()) == 1

    code, _, stderr = aiconsole(config, "logs", "12;reboot")
    assert code == 1 and "invalid job id" in stderr

    held = cluster.submit("--hold")
    code, _, stderr = aiconsole(config, "logs", held)
    assert code == 1 and f"estate: job {held} is pending: it has written nothing yet" in stderr


def _app(cluster: SlurmEstate, *extra: SlurmCollector) -> object:
    from aiconsole.app import ConsoleApp
    from aiconsole.fleet import Fleet

    store = FleetStore()
    runner = SshRunner("ctl", str(cluster.ssh_config))
    collectors = [SlurmCollector("estate", runner, store, interval=0.5, timeout=5)]
    collectors += [SlurmCollector(c.name, c.runner, store, interval=0.5, timeout=3) for c in extra]
    fleet = Fleet(store, [], clusters=collectors, ssh_config=str(cluster.ssh_config))
    return ConsoleApp(fleet, refresh_interval=0.2)


async def test_the_log_view_follows_the_selected_job(
    cluster: SlurmEstate, config: Path, tmp_path: Path
) -> None:
    from textual.widgets import DataTable, RichLog

    from aiconsole.app import ConsoleApp
    from aiconsole.screens.jobs import JobsScreen
    from aiconsole.screens.logs import LogScreen
    from tests.test_screens import wait_for

    trigger = tmp_path / "trigger"
    job = talker(cluster, trigger)
    app = _app(cluster)
    assert isinstance(app, ConsoleApp)

    def shown() -> list[str]:
        return [strip.text for strip in app.screen.query_one(RichLog).lines]

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        jobs = app.screen.query_one("#jobs-table", DataTable)
        await wait_for(pilot, lambda: jobs.row_count == 1)
        jobs.focus()
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen))
        assert app.screen.title == f"estate job {job}"
        await wait_for(pilot, lambda: "line 5" in shown(), 30)
        assert any("[bold]markup[/bold]" in line and "␛[31m" in line for line in shown())
        trigger.touch()
        await wait_for(pilot, lambda: "after trigger" in shown(), 30)
        assert isinstance(app.screen, LogScreen) and app.screen.ended is None
        assert remote_tails(cluster) == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        # Closing the view ends the `tail -F` on the controller host too (the log is quiet
        # now: a tail left behind would wait there for a write that may never come).
        await wait_for(pilot, lambda: remote_tails(cluster) == 0, 30)
        for collector in app.fleet.clusters:
            collector.close()


def remote_tails(cluster: SlurmEstate) -> int:
    """How many `tail` processes run on the controller host."""
    pids = subprocess.run(
        ["ip", "netns", "pids", cluster.controller.netns], capture_output=True, text=True
    ).stdout.split()
    count = 0
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        count += argv[0] == b"tail"
    return count


async def test_the_jobs_screen_lists_every_cluster_and_switches(
    cluster: SlurmEstate, tmp_path: Path
) -> None:
    from textual.widgets import DataTable, Static

    from aiconsole.app import ConsoleApp
    from aiconsole.screens.jobs import JobsScreen
    from tests.test_screens import wait_for

    # A second cluster whose host refuses connections (nothing listens on 127.0.0.1:1).
    ghost_config = tmp_path / "ghost_ssh_config"
    ghost_config.write_text("Host ghost\n  HostName 127.0.0.1\n  Port 1\n  User root\n")
    store = FleetStore()
    ghost = SlurmCollector("other", SshRunner("ghost", str(ghost_config)), store, timeout=3)
    job = cluster.submit("-J", "held")
    app = _app(cluster, ghost)
    assert isinstance(app, ConsoleApp)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        screen = app.screen
        line = screen.query_one("#clusters-line", Static)
        jobs = screen.query_one("#jobs-table", DataTable)

        def text() -> str:
            return str(line.render())

        await wait_for(pilot, lambda: "estate ok" in text() and "other error" in text(), 30)
        await wait_for(pilot, lambda: jobs.row_count == 1)
        assert "▸estate" in text() and "Slurm · estate (1/2" in screen.title
        await pilot.press("k")
        assert "▸other" in text() and "Slurm · other (2/2" in screen.title
        status = str(screen.query_one("#cluster-status", Static).render())
        assert "other: error" in status and "cannot connect" in status
        await wait_for(pilot, lambda: jobs.row_count == 0)
        await pilot.press("k")
        await wait_for(pilot, lambda: jobs.row_count == 1 and "▸estate" in text())
        assert jobs.get_row_at(0)[0].plain == job
        for collector in app.fleet.clusters:
            collector.close()


def test_output_paths_forged_in_a_job_name_are_never_read(
    cluster: SlurmEstate, config: Path
) -> None:
    secret = cluster.root / "secret.txt"
    secret.write_text("not for the job's owner\n")
    forged = f"x\n   StdErr={secret}\n   StdIn=/dev/null\n   StdOut={secret}"
    job = cluster.submit("-J", forged, "--comment", forged)
    code, stdout, stderr = aiconsole(config, "logs", job)
    assert (code, stdout) == (1, "")
    assert "not understood" in stderr and len(stderr.splitlines()) == 1


def test_a_file_only_the_batch_node_sees_is_read_there(
    cluster: SlurmEstate, config: Path, tmp_path: Path
) -> None:
    """The output directory is hidden on the controller host (an empty tmpfs mounted over it
    in its sshd's own mount namespace, as a node-local disk would be absent there): the
    console reads the file on the job's batch node instead."""
    local = cluster.jobs / "node-local"
    local.mkdir(exist_ok=True)
    job = talker(cluster, tmp_path / "never", output="node-local/talk-%j.out")
    controller = cluster.controller.sshd
    assert controller is not None
    mount_ns = ["nsenter", f"--target={controller.pid}", "--mount"]
    subprocess.run([*mount_ns, "mount", "-t", "tmpfs", "tmpfs", str(local)], check=True)
    try:
        code, stdout, stderr = aiconsole(config, "logs", job, "--lines", "1")
        assert code == 0, stderr
        assert stdout == "line 5\n"
        assert stderr.rstrip().endswith("on node1")
    finally:
        subprocess.run([*mount_ns, "umount", str(local)], check=True)


def test_follow_ends_once_the_job_has_ended_and_its_last_lines_are_in(
    cluster: SlurmEstate, config: Path, tmp_path: Path
) -> None:
    trigger = tmp_path / "trigger"
    job = cluster.slurm(
        "sbatch",
        "--parsable",
        f"--chdir={cluster.jobs}",
        f"--output={cluster.jobs}/ending-%j.out",
        f"--wrap=echo first; while [ ! -e {trigger} ]; do sleep 0.2; done; echo last words",
    ).strip()
    cluster.wait_until(lambda: cluster.job_field(job, "JobState") == "RUNNING", "job running")
    follower = subprocess.Popen(
        [sys.executable, "-m", "aiconsole", "--config", str(config), "logs", job, "-f"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "first\n"
        trigger.touch()
        # The job prints its last line and exits; the follow prints it, then ends by itself.
        stdout, stderr = follower.communicate(timeout=90)
        assert stdout == "last words\n"
        assert follower.returncode == 0, stderr
    finally:
        if follower.poll() is None:
            follower.kill()
