"""The chunk logic on arbitrary JSON trees: any run of documents, kept as a keyframe plus
per-path columns, gives back each document exactly (types included), at any frame."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from aiconsole.recording import columns
from aiconsole.recording.flat import Path, apply, diff
from aiconsole.recording.writer import leaf

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    # JSON has no NaN or infinity (msgspec writes null for them, here as in snapshot --json).
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
)
keys = st.sampled_from(["a", "b", "c", "gpus", "name"])
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


def as_json(value: Any) -> str:
    """The document as JSON with its keys sorted: a replay keeps every key and value, with
    its type (1, 1.0 and true differ), not the order of keys that arrived later."""
    return json.dumps(value, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(keys, trees, min_size=1), min_size=1, max_size=6))
def test_any_run_of_documents_comes_back_exactly(documents: list[dict[str, Any]]) -> None:
    key = documents[0]
    changes: dict[Path, tuple[list[int], list[Any]]] = {}
    for frame in range(1, len(documents)):

        def emit(path: Path, value: Any, frame: int = frame) -> None:
            column = changes.setdefault(path, ([], []))
            if column[0] and column[0][-1] == frame:
                column[1][-1] = value
            else:
                column[0].append(frame)
                column[1].append(value)

        diff(documents[frame - 1], documents[frame], emit)
    # Through JSON, as a file holds them.
    stored = [
        [list(path), columns.encode(frames, values, leaf(key, path))]
        for path, (frames, values) in changes.items()
    ]
    coded = msgspec.json.decode(msgspec.json.encode(stored))
    for frame, document in enumerate(documents):
        state = msgspec.json.decode(msgspec.json.encode(key))
        wanted = []
        for path, column in coded:
            path = tuple(path)
            value = columns.value_at(column, columns.frames_of(column), frame, leaf(state, path))
            if value is not columns.NO_CHANGE:
                wanted.append((path, value))
        assert as_json(apply(state, wanted)) == as_json(document), frame
