"""The one protobuf body kubectl sends: DeleteOptions of a DELETE (its typed clients encode
requests as `application/vnd.kubernetes.protobuf`; evictions and patches travel as JSON).

The wire format: the magic `k8s\\0`, then a `runtime.Unknown` message whose field 2 holds the
encoded object; DeleteOptions' fields are numbered as in k8s.io/apimachinery's generated.proto."""

from __future__ import annotations

from typing import Any

from tests.kubeserver import errors

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
Obj = dict[str, Any]


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if position >= len(data):
            raise errors.bad_request("truncated protobuf varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of one message: ints for varints, bytes for the rest."""
    out: list[tuple[int, int | bytes]] = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
            out.append((number, value))
        elif wire == 2:
            length, position = _varint(data, position)
            out.append((number, data[position : position + length]))
            position += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            out.append((number, data[position : position + size]))
            position += size
        else:
            raise errors.bad_request(f"unsupported protobuf wire type {wire}")
    return out


def _signed(value: int | bytes) -> int:
    assert isinstance(value, int)
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(value: int | bytes) -> str:
    assert isinstance(value, bytes)
    return value.decode()


def decode(body: bytes) -> Obj:
    """The JSON form of a protobuf-encoded DeleteOptions; 415 for any other kind."""
    if not body.startswith(MAGIC):
        raise errors.bad_request("a protobuf body must start with the k8s magic")
    envelope = dict(fields(body[len(MAGIC) :]))
    meta_bytes = envelope.get(1, b"")
    type_meta = dict(fields(meta_bytes)) if isinstance(meta_bytes, bytes) else {}
    kind = _text(type_meta.get(2, b""))
    raw = envelope.get(2, b"")
    if kind != "DeleteOptions" or not isinstance(raw, bytes):
        raise errors.ApiError(
            415, "UnsupportedMediaType", f"the test server reads no protobuf {kind or 'object'}"
        )
    options: Obj = {"kind": "DeleteOptions", "apiVersion": _text(type_meta.get(1, b"v1"))}
    for number, value in fields(raw):
        if number == 1:
            options["gracePeriodSeconds"] = _signed(value)
        elif number == 2 and isinstance(value, bytes):
            names = {1: "uid", 2: "resourceVersion"}
            options["preconditions"] = {names[n]: _text(v) for n, v in fields(value) if n in names}
        elif number == 3:
            options["orphanDependents"] = bool(value)
        elif number == 4:
            options["propagationPolicy"] = _text(value)
        elif number == 5:
            options.setdefault("dryRun", []).append(_text(value))
    return options
