"""The one-shot local snapshot runs without an event loop: same outcomes as the async path."""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.inspect
import pytest

from aiconsole import model
from aiconsole.fleet import Fleet, local_fleet
from aiconsole.store import FleetStore
from aiconsole.text import _text_fields, _textless
from tests.test_collectors import HangingSampler, local


def test_blocking_sample_lands_in_the_store() -> None:
    store = FleetStore()
    collector = local(store)
    state = collector.collect_blocking()
    assert state.status == "ok" and state.sample is not None
    assert state.sample.identity.name == "here"
    assert store.snapshot().hosts[0].status == "ok"


def test_a_hung_sampler_is_stale_after_the_timeout_and_not_joined_twice() -> None:
    sampler = HangingSampler()
    collector = local(FleetStore(), sampler=sampler, timeout=0.2)
    assert collector.collect_blocking().status == "ok"
    sampler.hang = True
    state = collector.collect_blocking()
    assert (state.status, state.reason) == ("stale", "no sample within 0.2 s")
    assert state.sample is not None  # what was known is still shown
    state = collector.collect_blocking()
    assert state.reason == "previous sample still running (NVML or a mount hung?)"
    sampler.release.set()


def test_failures_are_one_line_states() -> None:
    class Garbage:
        def sample(self) -> dict[str, Any]:
            return {"seq": "not a number"}

    class Broken:
        def sample(self) -> dict[str, Any]:
            raise OSError("boom\nsecond line")

    state = local(FleetStore(), sampler=Garbage()).collect_blocking()
    assert state.status == "probe_error"
    assert state.reason is not None and state.reason.startswith("probe output rejected: ")
    state = local(FleetStore(), sampler=Broken()).collect_blocking()
    assert (state.status, state.reason) == ("probe_error", "OSError: boom")


def test_only_a_fleet_of_local_collectors_is_sampled_without_a_loop() -> None:
    fleet = local_fleet()
    snapshot = fleet.snapshot_blocking(0)
    assert snapshot is not None and snapshot.hosts[0].status == "ok"
    fleet.feeds = [object()]  # type: ignore[list-item]  # any whole-fleet source needs asyncio
    assert fleet.snapshot_blocking(0) is None
    assert Fleet(FleetStore(), [object()]).snapshot_blocking(0) is None  # type: ignore[list-item]


def struct_classes() -> list[type[msgspec.Struct]]:
    found = []
    for name in dir(model):
        value = getattr(model, name)
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            found.append(value)
    return found


def evaluated_text_fields(cls: type[msgspec.Struct]) -> set[str]:
    """The fields whose evaluated type can hold text: what the fast reading must walk."""

    def textless(kind: msgspec.inspect.Type) -> bool:
        if isinstance(kind, msgspec.inspect.UnionType):
            return all(textless(member) for member in kind.types)
        if isinstance(kind, msgspec.inspect.TupleType):
            return all(textless(item) for item in kind.item_types)
        if isinstance(kind, (msgspec.inspect.VarTupleType, msgspec.inspect.ListType)):
            return textless(kind.item_type)
        plain = (
            msgspec.inspect.IntType,
            msgspec.inspect.FloatType,
            msgspec.inspect.BoolType,
            msgspec.inspect.NoneType,
            msgspec.inspect.LiteralType,
        )
        return isinstance(kind, plain)

    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return {field.name for field in info.fields if not textless(field.type)}


@pytest.mark.parametrize("cls", struct_classes(), ids=lambda cls: cls.__name__)
def test_the_cleaning_walk_visits_every_field_that_can_hold_text(
    cls: type[msgspec.Struct],
) -> None:
    walked = set(_text_fields(cls))
    assert evaluated_text_fields(cls) <= walked
    # ... and skips the plain numbers, which is what the walk's speed rests on.
    skipped = set(cls.__struct_fields__) - walked
    numeric = set(cls.__struct_fields__) - evaluated_text_fields(cls)
    assert {f for f in numeric if cls.__annotations__.get(f) in ("int | None", "float")} <= skipped


def test_annotations_the_fast_reading_does_not_know_are_walked() -> None:
    assert _textless("int | None") and _textless("Literal['a', 'b'] | None")
    assert _textless("Annotated[tuple[float, ...], msgspec.Meta(max_length=4)] | None")
    assert not _textless("str | None") and not _textless("dict[str, int]")
    assert not _textless("Literal['a | int']x") and not _textless("HostStatus")
    assert not _textless(int)  # an evaluated annotation: walked, not guessed
