"""The one cleaning step (aiconsole.text) and the decode boundary that applies it to samples."""

from __future__ import annotations

import json
from typing import Any, Literal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiconsole.collectors.base import CollectionError, decode_sample
from aiconsole.collectors.ssh import decode_line
from aiconsole.model import HostSample, HostState
from aiconsole.store import FleetStore
from aiconsole.text import MAX_TEXT, clean, clean_strings, is_clean, plain_json
from tests.synthetic import fleet_store

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"
"""Writes "rm -rf ~" to the operator's clipboard, on terminals that allow it."""
CLEAR = "\x1b[2J"
RLO = "\u202e"
HOSTILE = (
    "[/x]",
    "[@click=app.screenshot()]x",
    "[bold red]x",
    f"ls{OSC52}",
    f"{CLEAR}top",
    f"{RLO}fdp.exe",
    "a\tb\nc\x9bd\x7f",
)


# -- clean -------------------------------------------------------------------------------------


def test_controls_become_visible_pictures() -> None:
    assert clean(f"ls{OSC52}") == "ls␛]52;c;cm0gLXJmIH4=␇"
    assert clean(f"{CLEAR}top") == "␛[2Jtop"
    assert clean("a\nb\rc\x00") == "a␊b␍c␀"
    assert clean("del\x7f") == "del␡"


def test_c1_controls_and_line_separators_are_spelled_out() -> None:
    assert clean("csi\x9b2J") == "csi\\x9b2J"
    assert clean("nel\x85") == "nel\\x85"
    assert clean("one\u2028two\u2029") == "one\\u2028two\\u2029"


def test_bidi_controls_are_removed_and_tabs_become_spaces() -> None:
    assert clean(f"{RLO}fdp.exe") == "fdp.exe"
    assert clean("a\u2066b\u2069\u200fc\u061c") == "abc"
    assert clean("a\tb") == "a b"


def test_lone_surrogates_become_the_replacement_character() -> None:
    text = clean("name\udcff")
    assert text == "name\ufffd"
    text.encode("utf-8")  # printable without raising


def test_markup_is_left_to_the_renderer() -> None:
    # Brackets are printable text: the screens show them as text (never as markup).
    for value in ("[/x]", "[@click=app.screenshot()]x", "[bold red]x", "[link=https://x]y"):
        assert clean(value) == value


def test_long_text_is_cut_visibly() -> None:
    assert clean("x" * 10, limit=5) == "xxxx…"
    assert clean("x" * 5, limit=5) == "x" * 5
    assert len(clean("x" * (100 * MAX_TEXT))) == MAX_TEXT
    # Pictures can lengthen text (a C1 control is four characters): the bound still holds.
    assert len(clean("\x9b" * 10, limit=8)) == 8


def test_ordinary_text_is_returned_as_is() -> None:
    for value in ("python train.py --lr 2e-5", "Ünïcödé 東京 🙂", "a\u00a0b", ""):
        assert clean(value) is value


@given(st.text(), st.integers(min_value=1, max_value=64))
def test_clean_output_is_clean_bounded_and_stable(value: str, limit: int) -> None:
    cleaned = clean(value, limit)
    assert is_clean(cleaned)
    assert "\x1b" not in cleaned and RLO not in cleaned
    assert len(cleaned) <= limit
    assert clean(cleaned, limit) == cleaned
    cleaned.encode("utf-8")


@given(st.text())
def test_clean_changes_only_what_it_must(value: str) -> None:
    if is_clean(value) and len(value) <= MAX_TEXT:
        assert clean(value) == value


# -- plain_json: the proof that lets plain lines skip the walk ----------------------------------

json_trees = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings_in(k), *strings_in(v))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in strings_in(item)]
    return []


@settings(max_examples=300)
@given(json_trees, st.sampled_from(["ascii", "utf-8", "msgspec"]), st.integers(2, 40))
def test_a_document_plain_json_passes_holds_only_clean_strings(
    tree: Any, encoding: str, limit: int
) -> None:
    if encoding == "msgspec":
        document = msgspec.json.encode(tree)
    else:
        document = json.dumps(tree, ensure_ascii=encoding == "ascii").encode()
    if plain_json(document, limit):
        for value in strings_in(msgspec.json.decode(document)):
            assert clean(value, limit) == value


def test_plain_json_refuses_escapes_foreign_bytes_and_long_strings() -> None:
    assert plain_json(b'{"command":"python train.py"}')
    assert not plain_json(json.dumps({"c": OSC52}).encode())  # \u001b escape
    assert not plain_json(json.dumps({"c": "a\nb"}).encode())  # \n escape
    assert not plain_json(json.dumps({"c": RLO}, ensure_ascii=False).encode())  # raw UTF-8
    assert not plain_json(b'{"c":"del\x7f"}')  # DEL needs no escape in JSON
    assert not plain_json(json.dumps({"c": "x" * (MAX_TEXT + 1)}).encode())
    assert plain_json(json.dumps({"c": "x" * (MAX_TEXT // 2 - 2)}).encode())


def test_the_recorded_8_gpu_sample_takes_the_fast_path() -> None:
    sample = fleet_store().get("gpu-node-05")
    assert sample is not None and sample.sample is not None
    assert plain_json(json.dumps(msgspec.to_builtins(sample.sample)).encode())


# -- the decode boundary -----------------------------------------------------------------------

LITERAL_FIELDS = {"status", "source", "kind"}
"""Validated against fixed values: tampering with them makes the sample invalid instead."""


def hostile_tree(sample: HostSample) -> Any:
    """The sample as the probe would send it, with every free-text string made hostile."""
    counter = iter(range(10**6))

    def tamper(value: Any, key: str | None = None) -> Any:
        if isinstance(value, str):
            if key in LITERAL_FIELDS:
                return value
            return HOSTILE[next(counter) % len(HOSTILE)] + value
        if isinstance(value, dict):
            reasons = key == "unavailable"
            return {
                (tamper(k) if reasons else k): tamper(v, None if reasons else k)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [tamper(item, key) for item in value]
        return value

    # Fill in text fields the synthetic sample leaves empty, so each is tried.
    tree = msgspec.to_builtins(sample)
    tree["identity"].update(kernel="6.8", python_version="3.12")
    tree["gpu"].update(reason="why", cuda_driver_version="12.4")
    tree["gpu"]["gpus"][0]["unavailable"] = {"fan_speed_percent": "Not Supported"}
    return tamper(tree)


def all_strings_clean(sample: HostSample) -> None:
    strings = strings_in(msgspec.to_builtins(sample))
    assert strings
    for value in strings:
        assert is_clean(value), value
        assert "\x1b" not in value and RLO not in value


@pytest.fixture
def hostile() -> Any:
    state = fleet_store().get("gpu-node-05")  # GPUs, processes and XIDs
    assert state is not None and state.sample is not None
    return hostile_tree(state.sample)


def test_every_string_of_a_decoded_line_is_clean(hostile: Any) -> None:
    line = json.dumps(hostile).encode()
    sample = decode_line(line)
    all_strings_clean(sample)
    strings = strings_in(msgspec.to_builtins(sample))
    assert any(s.startswith("ls␛]52;c;cm0gLXJmIH4=␇") for s in strings)  # shown, not dropped
    assert any(s.startswith("[@click=app.screenshot()]x") for s in strings)


def test_every_string_of_a_local_sample_is_clean(hostile: Any) -> None:
    all_strings_clean(decode_sample(hostile))


def test_a_huge_command_line_is_capped(hostile: Any) -> None:
    hostile["gpu"]["gpus"][0]["processes"][0]["command"] = "x" * 1_000_000
    for sample in (decode_line(json.dumps(hostile).encode()), decode_sample(hostile)):
        command = sample.gpu.gpus[0].processes[0].command
        assert command is not None and len(command) == MAX_TEXT and command.endswith("…")


def test_a_clean_sample_comes_back_unchanged() -> None:
    state = fleet_store().get("gpu-node-05")
    assert state is not None and state.sample is not None
    assert clean_strings(state.sample) is state.sample


def test_clean_strings_refuses_a_type_it_does_not_know() -> None:
    with pytest.raises(TypeError):
        clean_strings({"a": object()})


def test_a_rejected_sample_reason_is_clean() -> None:
    state = fleet_store().get("gpu-node-05")
    assert state is not None and state.sample is not None
    tree = msgspec.to_builtins(state.sample)
    tree["gpu"]["status"] = f"{OSC52}{RLO}"
    with pytest.raises(CollectionError) as raised:
        decode_sample(tree)
    assert is_clean(raised.value.reason)
    with pytest.raises(CollectionError) as raised:
        decode_line(json.dumps(tree).encode() + b"\x1b[2J")
    assert is_clean(raised.value.reason)


def test_the_store_cleans_every_reason() -> None:
    store = FleetStore()
    store.put(HostState(name="gpu01", status="unreachable", reason=f"banner: {OSC52}{RLO}x\n"))
    state = store.get("gpu01")
    assert state is not None and state.reason == "banner: ␛]52;c;cm0gLXJmIH4=␇x␊"


class Inner(msgspec.Struct, frozen=True):
    label: str
    count: int = 0


class Shapes(msgspec.Struct, frozen=True):
    """Every shape of field a model may grow: each must be walked if it can hold text."""

    plain: str
    maybe: str | None
    either: str | int
    names: tuple[str, ...]
    pair: tuple[int, str]
    listed: list[str]
    mapping: dict[str, int]
    nested: Inner
    inners: tuple[Inner, ...]
    numbers: tuple[float, ...]
    kind: Literal["a", "b"] = "a"


def test_clean_strings_walks_every_shape_of_field() -> None:
    bad = f"x{OSC52}{RLO}"
    value = Shapes(
        plain=bad,
        maybe=bad,
        either=bad,
        names=(bad, "ok"),
        pair=(1, bad),
        listed=[bad],
        mapping={bad: 1},
        nested=Inner(bad),
        inners=(Inner("ok"), Inner(bad)),
        numbers=(1.0, 2.0),
    )
    cleaned = clean_strings(value)
    strings = strings_in(msgspec.to_builtins(cleaned))
    assert strings.count(clean(bad)) == 9
    assert all(is_clean(s) for s in strings)
    assert cleaned.inners[0] is value.inners[0]  # what was clean is kept, not copied
    assert cleaned.numbers is value.numbers


@settings(max_examples=200)
@given(st.text(), st.text(max_size=12), st.sampled_from(["ascii", "utf-8"]))
def test_whatever_text_a_host_sends_decodes_clean(value: str, key: str, encoding: str) -> None:
    state = fleet_store().get("gpu-node-05")
    assert state is not None and state.sample is not None
    tree: Any = msgspec.to_builtins(state.sample)
    tree["identity"]["hostname"] = value
    tree["gpu"]["gpus"][1]["processes"][0]["command"] = value
    tree["gpu"]["gpus"][1]["unavailable"] = {key: value}
    line = json.dumps(tree, ensure_ascii=encoding == "ascii").encode()
    sample = decode_line(line)
    all_strings_clean(sample)
    assert sample.identity.hostname == clean(value)
    assert sample.gpu.gpus[1].unavailable == {clean(key): clean(value)}
