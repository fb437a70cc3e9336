"""Property tests over the Slurm parsers: whatever text sinfo, squeue or scontrol print
(a user names jobs and paths, an admin writes reasons), the parsers return what they
understood and count the rest as skipped; nothing else ever escapes them."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiconsole.slurm.parse import (
    JOB_FIELDS,
    NODE_FIELDS,
    duration_s,
    gpu_count,
    gpu_indices,
    parse_job_details,
    parse_jobs,
    parse_nodes,
    parse_state,
)
from aiconsole.slurm.reader import cluster_from

# Text with the characters that mean something to these formats, plus anything at all.
SPECIAL = st.sampled_from(
    ["|", "\n", " ", "=", "[", "]", "-", ",", ":", "(", ")", "*", "~", "$", "@", "^", "+",
     "IDX:", "gpu:", "JobId=", " JobName=", " UserId=", " JOB_GRES=", " Nodes=", " GRES=",
     " CPU_IDs=", " Mem=", " MinCPUsNode=", "N/A", "(null)", "²", "٣", "\x1b", "\u202e",
     "4000000000", "0", "7"]
)  # fmt: skip
TEXT = st.lists(st.one_of(SPECIAL, st.text(max_size=8)), max_size=40).map("".join)
FIELD = st.one_of(st.sampled_from(["", "N/A", "node[1-3]", "gpu:4", "1-02:03:04", "5"]), TEXT)
PROPERTIES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def lines_of(count: int) -> st.SearchStrategy[str]:
    """Lines with the right number of ``|`` fields, so parsing gets past the split."""
    line = st.lists(FIELD, min_size=count, max_size=count).map(lambda f: "|".join(f) + "|")
    return st.lists(st.one_of(line, TEXT), max_size=6).map("\n".join)


@PROPERTIES
@given(st.one_of(TEXT, lines_of(len(NODE_FIELDS))))
def test_sinfo_output_parses_or_is_skipped(text: str) -> None:
    nodes, skipped = parse_nodes(text)
    lines = [line for line in text.splitlines() if line.strip()]
    assert skipped <= len(lines)
    assert len(nodes) + skipped <= len(lines)
    for node in nodes:
        assert node.name and node.name == node.name.strip()
        assert node.summary


@PROPERTIES
@given(st.one_of(TEXT, lines_of(len(JOB_FIELDS))))
def test_squeue_output_parses_or_is_skipped(text: str) -> None:
    jobs, skipped = parse_jobs(text)
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(jobs) + skipped == len(lines)
    for job in jobs:
        assert job.job_id.isascii() and job.job_id.isdigit()
        assert job.restarts is None or job.restarts >= 0


@PROPERTIES
@given(TEXT, st.dictionaries(st.sampled_from(["1", "2", "12"]), TEXT, max_size=3))
def test_scontrol_output_gives_bounded_gpu_indices_or_nothing(
    text: str, names: dict[str, str]
) -> None:
    for job_id, gpus in parse_job_details(text, names).items():
        assert job_id in names
        for indices in gpus.values():
            assert all(0 <= index <= 1023 for index in indices)


@PROPERTIES
@given(TEXT, TEXT, TEXT)
def test_a_whole_reading_never_raises(nodes: str, jobs: str, details: str) -> None:
    cluster = cluster_from("c", nodes, jobs, details)
    assert cluster.status == "ok"


@PROPERTIES
@given(TEXT)
def test_small_parsers_return_a_value_or_none(text: str) -> None:
    seconds = duration_s(text)
    assert seconds is None or seconds >= 0
    count = gpu_count(text)
    assert count is None or count >= 0
    assert all(0 <= index <= 1023 for index in gpu_indices(text))
    state, flags = parse_state(text)
    assert state and all(flag == flag.upper() for flag in flags)


END = "e0123456789abcdef"


@PROPERTIES
@given(st.lists(st.one_of(TEXT, st.just(f"|{END}\n"), st.just(f"|{END}")), max_size=12))
def test_marked_records_parse_or_are_skipped(pieces: list[str]) -> None:
    text = "".join(pieces)
    for parse in (parse_jobs, parse_nodes):
        found, skipped = parse(text, END)  # type: ignore[operator]
        assert len(found) + skipped <= text.count(f"|{END}") + 1
    assert cluster_from("c", text, text, text, END).status == "ok"
