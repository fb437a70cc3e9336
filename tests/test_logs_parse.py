"""Reading a job's output paths from `scontrol show job` and cutting logs into lines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiconsole.logs.lines import LineCutter, LineRing, LogUnavailable
from aiconsole.logs.slurm_job import expand, parse_job_output, tail_argv
from aiconsole.text import ELLIPSIS, clean

SAMPLES = Path("/work/shared/recipes/slurm-22.05-samples")


def record(
    name: str = "train",
    stdout: str = "/jobs/slurm-7.out",
    stderr: str = "/jobs/slurm-7.out",
    head: str = "JobId=7",
    comment: str | None = None,
) -> str:
    """A `scontrol show job 7` record, as Slurm 22.05 lays it out."""
    lines = [
        f"{head} JobName={name}",
        "   UserId=alice(1000) GroupId=alice(1000) MCS_label=N/A",
        "   JobState=RUNNING Reason=None Dependency=(null)",
        "   NodeList=node1",
        "   BatchHost=node1",
        "   Command=/jobs/run.sh",
        "   WorkDir=/jobs",
    ]
    if comment is not None:
        lines.append(f"   Comment={comment} ")
    lines += [f"   StdErr={stderr}", "   StdIn=/dev/null", f"   StdOut={stdout}", "   Power=", ""]
    return "\n".join(lines) + "\n"


def test_paths_state_and_batch_host_are_read() -> None:
    output = parse_job_output(record(stderr="/jobs/err 7.txt"), "7")
    assert (output.stdout, output.stderr) == ("/jobs/slurm-7.out", "/jobs/err 7.txt")
    assert (output.state, output.batch_host) == ("RUNNING", "node1")


def test_the_recorded_22_05_sample_parses() -> None:
    text = (SAMPLES / "scontrol-show-job-d-1.txt").read_text()
    output = parse_job_output(text, "1")
    assert output.stdout == "/srv/estate/jobs/slurm-1.out"
    assert output.batch_host == "node1"


def test_patterns_are_expanded_as_sbatch_does() -> None:
    text = record(
        stdout="%x-%j-%u-%N-%%.out",
        stderr="/logs/%A_%4a.err",
        head="JobId=9 ArrayJobId=8 ArrayTaskId=3",
    )
    output = parse_job_output(text, "8_3")
    assert output.stdout == "/jobs/train-9-alice-node1-%.out"  # relative: under WorkDir
    assert output.stderr == "/logs/8_0003.err"
    assert expand("/o/%j.%q", {"j": "5"}) == "/o/5.%q"  # an unknown pattern stays as typed


@pytest.mark.parametrize(
    "forged",
    [
        {"name": "x\n   StdErr=/etc/shadow\n   StdIn=/dev/null\n   StdOut=/etc/shadow"},
        {"comment": "c\n   StdErr=/etc/shadow\n   StdIn=/dev/null\n   StdOut=/etc/shadow"},
    ],
)
def test_forged_output_lines_in_free_text_make_the_record_unreadable(
    forged: dict[str, str],
) -> None:
    with pytest.raises(LogUnavailable, match="not understood"):
        parse_job_output(record(**forged), "7")


def test_an_array_with_several_tasks_asks_for_one() -> None:
    text = record(head="JobId=9 ArrayJobId=8 ArrayTaskId=1") + record(
        head="JobId=10 ArrayJobId=8 ArrayTaskId=2"
    )
    with pytest.raises(LogUnavailable, match="is 2 jobs"):
        parse_job_output(text, "8")


def test_tail_is_an_argument_list_that_ends_options_before_the_path() -> None:
    assert tail_argv("/a b/-n", 5, follow=True) == ["tail", "-n", "5", "-F", "--", "/a b/-n"]
    with pytest.raises(LogUnavailable):
        tail_argv("-F", 5, follow=False)


def test_an_overlong_line_is_cut_and_the_rest_of_it_dropped() -> None:
    cutter = LineCutter(limit=10)
    lines = cutter.feed(b"x" * 25) + cutter.feed(b"y" * 1000 + b"\nshort\n")
    assert lines == ["x" * 9 + ELLIPSIS, "short"]
    assert cutter._partial == ""  # nothing of the long line is held


def test_a_line_without_newline_at_the_end_is_kept_and_crlf_is_a_line_end() -> None:
    cutter = LineCutter()
    assert cutter.feed(b"a\r\nb") == ["a"]
    assert cutter.finish() == ["b"]


@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=6))
def test_any_split_of_the_bytes_gives_the_same_bounded_clean_lines(
    data: bytes, cuts: list[int]
) -> None:
    whole = LineCutter(limit=50)
    expected = whole.feed(data) + whole.finish()
    pieces = LineCutter(limit=50)
    got: list[str] = []
    start = 0
    for cut in sorted(cuts):
        got += pieces.feed(data[start:cut])
        start = max(start, cut)
    got += pieces.feed(data[start:]) + pieces.finish()
    assert got == expected
    for line in got:
        assert len(line) <= 50
        assert clean(line, 50) == line  # already clean: nothing left for the terminal to obey


def test_the_ring_keeps_the_last_lines_and_counts_all() -> None:
    ring = LineRing(keep=3)
    ring.extend(str(n) for n in range(10))
    assert (list(ring.lines), ring.added) == (["7", "8", "9"], 10)


def test_a_job_log_loads_neither_the_kubernetes_client_nor_the_tui(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from aiconsole.cli import main\n"
        "code = main(['logs', '1', '--slurm', 'local'])\n"
        "heavy = ('kubernetes', 'textual', 'rich', 'aiohttp', 'prometheus_client')\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    # No scontrol on PATH: the command fails at once, which is all this needs.
    env = {**os.environ, "PATH": str(tmp_path), "HOME": str(tmp_path)}
    env.pop("AICONSOLE_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "1 []"
    assert result.stderr.startswith("aiconsole: error: local: scontrol not found on this machine")
    assert len(result.stderr.splitlines()) == 1


def test_usage_and_choice_errors_are_one_line_before_any_contact(tmp_path: Path) -> None:
    import os

    from tests.conftest import run_aiconsole

    env = {k: v for k, v in os.environ.items() if k != "AICONSOLE_CONFIG"}
    env["HOME"] = str(tmp_path)
    code, _, stderr = run_aiconsole("logs", "1", "--lines", "-1", env=env)
    assert code == 64 and stderr.splitlines() == ["aiconsole: error: --lines must be 0 to 100000"]
    code, _, stderr = run_aiconsole("logs", "1", env=env)
    assert code == 1 and "no Slurm cluster: give --slurm HOST" in stderr
    config = tmp_path / "two.toml"
    config.write_text('[clusters]\na = "login-a.invalid"\nb = "login-b.invalid"\n')
    code, _, stderr = run_aiconsole("--config", str(config), "logs", "1", env=env)
    assert code == 1 and len(stderr.splitlines()) == 1
    assert "several Slurm clusters are configured (a, b): name one with --cluster NAME" in stderr


async def test_a_follow_stops_its_stream_once_the_writer_has_ended() -> None:
    import asyncio

    from aiconsole.logs.follow import until_ended

    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    stopped = asyncio.Event()
    asked = 0

    async def stream() -> AsyncIterator[bytes]:
        try:
            while True:
                yield await chunks.get()
        finally:
            stopped.set()  # what kills the remote tail

    async def ended() -> bool:
        nonlocal asked
        asked += 1
        if asked == 1:
            chunks.put_nowait(b"last\n")  # written while the job ends
        return asked >= 2

    chunks.put_nowait(b"first\n")
    got = [chunk async for chunk in until_ended(stream(), ended, quiet=0.01)]
    assert got == [b"first\n", b"last\n"]
    assert stopped.is_set() and asked == 2
