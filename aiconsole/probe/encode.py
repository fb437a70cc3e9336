"""Samples as one line of JSON each, bounded in size, without the json package."""

from __future__ import annotations

from aiconsole.probe.common import MAX_SAMPLE_BYTES, SHRUNK_LIST_ITEMS, SHRUNK_TEXT_BYTES, clip

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from aiconsole.probe.common import JsonDict


def _not_json(value: object) -> object:
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


_JSON_CHECK = {"a": [1, 2.5, None, True, "\u00e9"], "b": {"c": -1}}
_JSON_CHECK_TEXT = '{"a":[1,2.5,null,true,"\\u00e9"],"b":{"c":-1}}'


def dumps(value: object) -> str:
    """``json.dumps(value, separators=(",", ":"))`` without the json package's import cost."""
    return (_ENCODER or _make_encoder())(value)


_ENCODER: Optional[Callable[[object], str]] = None


def _make_encoder() -> Callable[[object], str]:
    """The encoder json.dumps builds from _json's C accelerator, built here the same way so
    that the json package (re, enum, functools: ~7 ms of start-up on every host) is never
    imported. The json package is the fallback wherever that accelerator is missing or does
    not write what json.dumps writes."""
    global _ENCODER
    try:
        from _json import encode_basestring_ascii, make_encoder

        encoder = make_encoder(
            None, _not_json, encode_basestring_ascii, None, ":", ",", False, False, True
        )
        if "".join(encoder(_JSON_CHECK, 0)) != _JSON_CHECK_TEXT:
            raise ValueError("unexpected _json encoder")

        def encode(value: object) -> str:
            return "".join(encoder(value, 0))

    except Exception:
        import json

        def encode(value: object) -> str:
            return json.dumps(value, separators=(",", ":"))

    _ENCODER = encode
    return encode


def encode_sample(sample: JsonDict) -> str:
    """The sample as one line of JSON, never longer than MAX_SAMPLE_BYTES."""
    line = dumps(sample)
    if len(line) > MAX_SAMPLE_BYTES:
        line = dumps(shrink_sample(sample, len(line)))
    return line


def shrink_sample(sample: JsonDict, size: int) -> JsonDict:
    """The sample with every list of entries cut to SHRUNK_LIST_ITEMS and all text clipped to
    SHRUNK_TEXT_BYTES, and its "truncated" map saying so.

    What is left is bounded whatever the host holds: the other text is the probe's own field
    names, and the lists of numbers (per-core CPU) are bounded by the hardware.
    """
    small: JsonDict = _shrunk(sample)
    truncated = small.setdefault("truncated", {})
    truncated["sample"] = "%d bytes, over the %d-byte limit: lists cut to %d, text to %d bytes" % (
        size,
        MAX_SAMPLE_BYTES,
        SHRUNK_LIST_ITEMS,
        SHRUNK_TEXT_BYTES,
    )
    return small


def _shrunk(value: Any) -> Any:
    if isinstance(value, str):
        return clip(value, SHRUNK_TEXT_BYTES)
    if isinstance(value, dict):
        return {key: _shrunk(item) for key, item in value.items()}
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            value = value[:SHRUNK_LIST_ITEMS]
        return [_shrunk(item) for item in value]
    return value
