"""What one host can make the console hold is bounded, and past a bound it gets a status.

- the probe-line decoder: arbitrary bytes and arbitrary JSON only ever give a sample or the
  module's documented error (:class:`CollectionError`), never anything else;
- array sizes are checked as a sample is decoded (``aiconsole.model.base``'s ``MAX_*``);
- the line reader never buffers more than one line's limit, and loses nothing to a timeout;
- the GPU history keeps only the GPUs of a host's latest sample.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiconsole import model
from aiconsole.collectors.base import CollectionError, decode_sample
from aiconsole.collectors.lines import (
    MAX_LINE_BYTES,
    SSH_WINDOW,
    BoundedLines,
    LineTooLong,
    read_tail,
)
from aiconsole.collectors.ssh import decode_line
from aiconsole.history import History
from aiconsole.history.store import HostRecord
from aiconsole.model import FleetSnapshot, HostSample, HostState


def sample_dict(**gpu: Any) -> dict[str, Any]:
    """The smallest valid probe sample; ``gpu`` overrides fields of its GPU section."""
    return {
        "seq": 1,
        "collected_at": 1_700_000_000.0,
        "identity": {"name": "h1", "hostname": "h1", "probe_version": "0.1.0"},
        "cpu": {"count": 2},
        "memory": {},
        "gpu": {"status": "ok", "source": "nvml", **gpu},
    }


def encode(value: object) -> bytes:
    return json.dumps(value).encode()


# -- the decoder under arbitrary input -------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
FIELD_NAMES = st.sampled_from(
    ["seq", "collected_at", "identity", "cpu", "memory", "gpu", "gpus", "index", "status",
     "processes", "pid", "nics", "name", "filesystems", "disks", "xid_events", "unavailable"]
)  # fmt: skip


@st.composite
def mutated_samples(draw: st.DrawFn) -> object:
    """A valid sample with one value, somewhere inside it, replaced by arbitrary JSON."""
    document: Any = sample_dict(gpus=[{"index": 0, "processes": [{"pid": 1}]}])
    path = draw(st.lists(FIELD_NAMES, min_size=1, max_size=4))
    node = document
    for key in path[:-1]:
        child = node.get(key) if isinstance(node, dict) else None
        if isinstance(child, list) and child:
            child = child[0]
        if not isinstance(child, dict):
            break
        node = child
    node[path[-1]] = draw(JSON_VALUES)
    return document


def only_documented_errors(decode: Any, value: Any) -> None:
    try:
        result = decode(value)
    except CollectionError as error:
        assert error.status == "probe_error"
        assert error.reason
    else:
        assert isinstance(result, HostSample)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_give_a_sample_or_a_probe_error(line: bytes) -> None:
    only_documented_errors(decode_line, line)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_arbitrary_json_gives_a_sample_or_a_probe_error(value: object) -> None:
    only_documented_errors(decode_line, encode(value))
    only_documented_errors(decode_sample, value)


@settings(max_examples=300, deadline=None)
@given(mutated_samples())
def test_a_sample_with_any_part_replaced_gives_a_sample_or_a_probe_error(value: object) -> None:
    only_documented_errors(decode_line, encode(value))
    only_documented_errors(decode_sample, value)


@pytest.mark.parametrize("depth", [10, 1_000, 100_000])
def test_deep_nesting_is_a_probe_error(depth: int) -> None:
    deep = b"[" * depth + b"]" * depth
    only_documented_errors(decode_line, b'{"seq": ' + deep + b"}")


# -- array bounds, enforced at decode ----------------------------------------------------------


def gpus(count: int, **fields: Any) -> list[dict[str, Any]]:
    return [{"index": index, **fields} for index in range(count)]


BOUNDED: list[tuple[str, int, Any]] = [
    ("gpus", model.MAX_GPUS, lambda n: sample_dict(gpus=gpus(n))),
    (
        "processes",
        model.MAX_GPU_PROCESSES,
        lambda n: sample_dict(gpus=[{"index": 0, "processes": [{"pid": p} for p in range(n)]}]),
    ),
    (
        "xid_events",
        model.MAX_XID_EVENTS,
        lambda n: sample_dict(xid_events=[{"xid": 79, "name": "x", "source": "nvml"}] * n),
    ),
    (
        "clock_event_reasons",
        model.MAX_NAMES,
        lambda n: sample_dict(gpus=[{"index": 0, "clock_event_reasons": ["gpu_idle"] * n}]),
    ),
    (
        "unavailable",
        model.MAX_REASONS,
        lambda n: sample_dict(unavailable={f"field{i}": "why" for i in range(n)}),
    ),
    (
        "nics",
        model.MAX_NICS,
        lambda n: {**sample_dict(), "nics": [{"name": f"eth{i}"} for i in range(n)]},
    ),
    (
        "filesystems",
        model.MAX_FILESYSTEMS,
        lambda n: {
            **sample_dict(),
            "filesystems": [{"mount": "/", "device": "d", "fstype": "ext4"}] * n,
        },
    ),
    ("disks", model.MAX_DISKS, lambda n: {**sample_dict(), "disks": [{"name": "sda"}] * n}),
    (
        "ib_ports",
        model.MAX_IB_PORTS,
        lambda n: {**sample_dict(), "ib_ports": [{"device": "mlx5_0", "port": 1}] * n},
    ),
    (
        "per_core_percent",
        model.MAX_CPUS,
        lambda n: {**sample_dict(), "cpu": {"count": 2, "per_core_percent": [1.0] * n}},
    ),
]


@pytest.mark.parametrize(("field", "bound", "build"), BOUNDED, ids=[b[0] for b in BOUNDED])
def test_arrays_past_their_bound_are_refused_at_decode(field: str, bound: int, build: Any) -> None:
    assert isinstance(decode_line(encode(build(bound))), HostSample)  # at the bound: fine
    with pytest.raises(CollectionError) as raised:
        decode_line(encode(build(bound + 1)))
    assert raised.value.status == "probe_error"
    assert f"length <= {bound}" in raised.value.reason
    with pytest.raises(CollectionError):
        decode_sample(build(bound + 1))  # the local collector's path checks the same


def test_the_published_schema_states_the_bounds() -> None:
    schema = json.dumps(model.json_schema())
    assert f'"maxItems": {model.MAX_GPUS}' in schema


# -- the line reader -----------------------------------------------------------------------------


class Stream:
    """Stands in for an SSH channel's stdout: hands out what was fed, chunk by chunk."""

    def __init__(self) -> None:
        self.chunks: asyncio.Queue[bytes] = asyncio.Queue()

    def feed(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self.chunks.put_nowait(chunk)

    async def read(self, limit: int) -> bytes:
        chunk = await self.chunks.get()
        if len(chunk) > limit:
            self.chunks._queue.appendleft(chunk[limit:])  # type: ignore[attr-defined]
            chunk = chunk[:limit]
        return chunk


def reader(stream: Stream, limit: int = MAX_LINE_BYTES) -> BoundedLines:
    return BoundedLines(stream, limit)  # type: ignore[arg-type]


async def test_lines_are_split_and_the_last_partial_line_is_kept() -> None:
    stream = Stream()
    stream.feed(b"one\ntw", b"o\n\nthr", b"ee", b"")
    lines = reader(stream)
    assert [await lines.readline() for _ in range(5)] == [b"one", b"two", b"", b"three", None]


async def test_a_line_past_the_limit_is_refused_before_more_is_buffered() -> None:
    stream = Stream()
    stream.feed(b"x" * 600, b"x" * 600, b"\n")
    lines = reader(stream, limit=1000)
    with pytest.raises(LineTooLong):
        await lines.readline()
    assert not stream.chunks.empty()  # the newline was never read: nothing past the limit


async def test_a_line_exactly_at_the_limit_is_accepted() -> None:
    stream = Stream()
    stream.feed(b"x" * 1000 + b"\n")
    assert await reader(stream, limit=1000).readline() == b"x" * 1000


async def test_a_trickled_line_survives_the_timeouts_that_interrupt_it() -> None:
    stream = Stream()
    lines = reader(stream)
    for piece in (b'{"a"', b": 1", b"}"):
        stream.feed(piece)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(lines.readline(), 0.01)
    stream.feed(b"\n")
    assert await lines.readline() == b'{"a": 1}'


async def test_stderr_keeps_only_its_tail() -> None:
    stream = Stream()
    stream.feed(b"e" * 100_000, b"\nlast words\n", b"")
    tail = await read_tail(stream, keep=64)  # type: ignore[arg-type]
    assert len(tail) == 64 and tail.endswith(b"last words\n")


def test_a_line_fits_in_the_ssh_window() -> None:
    # The channel must be able to carry one whole line before the console reads it.
    assert MAX_LINE_BYTES <= SSH_WINDOW


# -- GPU history ---------------------------------------------------------------------------------


def snapshot_with(host: str, seq: int, indices: range | list[int]) -> FleetSnapshot:
    sample = msgspec.convert(
        {**sample_dict(gpus=[{"index": i, "util_gpu_percent": 50.0} for i in indices]), "seq": seq},
        HostSample,
    )
    return FleetSnapshot(
        generated_at=float(seq), hosts=(HostState(name=host, status="ok", sample=sample),)
    )


def test_history_forgets_gpus_that_left_the_sample() -> None:
    history = History()
    history.record(snapshot_with("h1", 1, [0, 1, 2]))
    history.record(snapshot_with("h1", 2, [0, 2]))
    assert history.gpus("h1") == [0, 2]
    assert history.utilisation("h1", 0) == [50.0, 50.0]
    assert history.utilisation("h1", 1) == []


def test_history_of_a_host_announcing_new_gpus_every_sample_stays_bounded() -> None:
    history = History(window_s=4, interval_s=1)
    for seq in range(20):
        first = seq * model.MAX_GPUS
        history.record(snapshot_with("h1", seq, range(first, first + model.MAX_GPUS)))
    assert len(history.gpus("h1")) == model.MAX_GPUS
    assert min(history.gpus("h1")) == 19 * model.MAX_GPUS  # only the latest sample's


def test_history_keeps_at_most_max_gpus_per_host() -> None:
    record = HostRecord(size=2)
    for index in range(model.MAX_GPUS * 3):
        record.gpu_tracks(index)
    assert len(record.gpus) == model.MAX_GPUS
