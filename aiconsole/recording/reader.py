"""Reading a recording: the index at open, one chunk inflated when a frame of it is asked for.

Every frame decodes into the model's own types (``msgspec.convert`` into
:class:`~aiconsole.model.FleetSnapshot`) and then through
:func:`aiconsole.text.clean_strings`, the same validation and cleaning a host's sample gets:
a recording is input from elsewhere. Every failure is a :class:`RecordingError` with one line
saying what and where.
"""

from __future__ import annotations

import datetime
import json
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from aiconsole.model import FleetSnapshot
from aiconsole.recording import columns, container
from aiconsole.recording.container import RecordingError
from aiconsole.recording.events import Event
from aiconsole.recording.flat import Path as LeafPath
from aiconsole.recording.flat import ShapeError, apply
from aiconsole.recording.writer import FORMAT, VERSION, leaf
from aiconsole.text import clean_strings


class Header(msgspec.Struct, kw_only=True):
    format: str
    version: int
    created: float
    chunk_frames: int
    interval: float | None = None
    snapshot_schema_version: int | None = None
    groups: dict[str, str] = {}
    """Host name -> inventory group, for the fleet screen's grouping."""


class ChunkEntry(msgspec.Struct, kw_only=True):
    offset: int
    first_frame: int
    times: list[float]


class Index(msgspec.Struct, kw_only=True):
    chunks: list[ChunkEntry]
    events: list[Event] = []


class ChunkDocument(msgspec.Struct, kw_only=True):
    first_frame: int
    times: list[float]
    events: list[Event] = []
    audit: list[dict[str, Any]] = []
    key: msgspec.Raw
    paths: list[list[str | int]]
    columns: list[columns.Column]


@dataclass
class _Chunk:
    """A chunk inflated once, kept while the replay stays inside it."""

    key: msgspec.Raw
    paths: list[LeafPath]
    columns: list[columns.Column]
    frames: list[list[int]]
    bases: list[Any]


class Recording:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)
        self.truncated = False
        """True when the file was not closed: what it holds up to its last whole chunk."""
        try:
            self._file = path.open("rb")
        except OSError as error:
            raise RecordingError(f"{self.name}: {error.strerror or error}") from None
        self._cached: tuple[int, _Chunk] | None = None
        try:
            self.header, index = self._open()
        except BaseException:
            self._file.close()
            raise
        self.chunks = index.chunks
        self.events = sorted((event.cleaned() for event in index.events), key=_event_order)
        self.times = [t for chunk in self.chunks for t in chunk.times]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- opening -------------------------------------------------------------------------------

    def _open(self) -> tuple[Header, Index]:
        file, name = self._file, self.name
        if file.read(len(container.MAGIC)) != container.MAGIC:
            raise RecordingError(f"{name}: not an aiconsole recording")
        found = container.read_block(file, len(container.MAGIC), name)
        if found is None or found[0] != container.HEADER or len(found[1]) > container.MAX_HEADER:
            raise RecordingError(f"{name}: no header (the file is cut short)")
        header = self._decode(found[1], Header, "header", raw_json=True)
        if header.format != FORMAT or header.version != VERSION:
            raise RecordingError(
                f"{name}: format {header.format!r} version {header.version} is not readable "
                f"by this aiconsole (it reads {FORMAT} version {VERSION})"
            )
        size = file.seek(0, 2)
        at = container.read_trailer(file, size)
        if at is not None:
            block = container.read_block(file, at, name)
            if block is not None and block[0] == container.INDEX:
                payload = container.inflate(block[1], f"{name}: index")
                index = self._decode(payload, Index, "index")
                if index.chunks:
                    return header, index
        return header, self._scan(found[2])

    def _scan(self, offset: int) -> Index:
        """Rebuild the index by reading every chunk (a file whose recorder did not close it)."""
        chunks, events = [], []
        while True:
            found = container.read_block(self._file, offset, self.name)
            if found is None:
                self.truncated = True
                break
            kind, payload, following = found
            if kind == container.INDEX:
                break
            if kind == container.CHUNK:
                where = f"chunk at byte {offset}"
                document = self._decode(
                    container.inflate(payload, f"{self.name}: {where}"), ChunkDocument, where
                )
                chunks.append(
                    ChunkEntry(
                        offset=offset, first_frame=document.first_frame, times=document.times
                    )
                )
                events.extend(document.events)
            offset = following
        if not chunks:
            raise RecordingError(f"{self.name}: no complete chunk (empty, or cut short)")
        return Index(chunks=chunks, events=events)

    def _decode(self, payload: bytes, kind: type[Any], where: str, raw_json: bool = False) -> Any:
        try:
            if raw_json:
                return msgspec.convert(json.loads(payload), kind)
            return msgspec.json.decode(payload, type=kind)
        except (ValueError, msgspec.ValidationError) as error:
            raise RecordingError(f"{self.name}: {where}: {error}") from None

    # -- frames --------------------------------------------------------------------------------

    def frame_at(self, when: float) -> int:
        """The last frame recorded at or before ``when`` (console clock)."""
        frame = bisect_right(self.times, when) - 1
        if frame < 0 or when > self.times[-1] + self.slack:
            start, end = self.times[0], self.times[-1]
            raise RecordingError(
                f"{self.name}: {moment(when)} is outside the recording "
                f"({moment(start)} to {moment(end)}, {end - start:.0f} s)"
            )
        return frame

    @property
    def slack(self) -> float:
        """How far after its last frame a time still reads as that frame: one interval."""
        return self.header.interval or 1.0

    def snapshot(self, frame: int) -> FleetSnapshot:
        if not 0 <= frame < len(self.times):
            raise RecordingError(f"{self.name}: no frame {frame} (it has {len(self.times)})")
        number = bisect_right([c.first_frame for c in self.chunks], frame) - 1
        entry = self.chunks[number]
        chunk = self._chunk(number)
        where = f"chunk at byte {entry.offset}"
        local = frame - entry.first_frame
        try:
            state = msgspec.json.decode(chunk.key)
            changes = []
            for path, column, frames, base in zip(
                chunk.paths, chunk.columns, chunk.frames, chunk.bases, strict=True
            ):
                value = columns.value_at(column, frames, local, base)
                if value is not columns.NO_CHANGE:
                    changes.append((path, value))
            snapshot = msgspec.convert(apply(state, changes), FleetSnapshot)
        except (ShapeError, ValueError, TypeError, msgspec.ValidationError) as error:
            raise RecordingError(f"{self.name}: {where}, frame {frame}: {error}") from None
        return clean_strings(snapshot)

    def _chunk(self, number: int) -> _Chunk:
        if self._cached is not None and self._cached[0] == number:
            return self._cached[1]
        entry = self.chunks[number]
        where = f"chunk at byte {entry.offset}"
        found = container.read_block(self._file, entry.offset, self.name)
        if found is None or found[0] != container.CHUNK:
            raise RecordingError(f"{self.name}: {where} is missing (the file is cut short)")
        payload = container.inflate(found[1], f"{self.name}: {where}")
        document = self._decode(payload, ChunkDocument, where)
        if len(document.paths) != len(document.columns):
            raise RecordingError(f"{self.name}: {where}: paths and columns differ in number")
        try:
            key = msgspec.json.decode(document.key)
            paths = _paths(document.paths)
            frames = [columns.frames_of(column) for column in document.columns]
        except (ShapeError, ValueError) as error:
            raise RecordingError(f"{self.name}: {where}: {error}") from None
        chunk = _Chunk(
            key=document.key,
            paths=paths,
            columns=document.columns,
            frames=frames,
            bases=[
                leaf(key, path) if columns.needs_base(column) else None
                for path, column in zip(paths, document.columns, strict=True)
            ],
        )
        self._cached = (number, chunk)
        return chunk


def moment(when: float) -> str:
    """A console-clock time as the operator reads it: local, ISO 8601, to the millisecond."""
    stamp = datetime.datetime.fromtimestamp(when).astimezone()
    return stamp.isoformat(timespec="milliseconds")


def _paths(coded: list[list[str | int]]) -> list[LeafPath]:
    """Undo the prefix coding: ``[shared, *rest]`` takes ``shared`` parts of the path before."""
    paths: list[LeafPath] = []
    previous: LeafPath = ()
    for entry in coded:
        shared = entry[0] if entry else None
        if type(shared) is not int or not 0 <= shared <= len(previous):
            raise ShapeError("bad path prefix")
        previous = (*previous[:shared], *entry[1:])
        paths.append(previous)
    return paths


def _event_order(event: Event) -> tuple[int, float]:
    return event.frame, event.time
