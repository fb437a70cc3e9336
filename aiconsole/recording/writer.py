"""Writing a recording: one snapshot per call, a chunk every ``chunk_frames`` snapshots.

Each snapshot is turned into its builtins form and compared with the one before it
(:func:`aiconsole.recording.flat.diff`); only the changed leaves are kept, per path, until the
chunk is full. Encoding and compressing a chunk runs on one background thread (lzma lets go
of the GIL while it works), so the caller, the TUI's event loop or the ``record`` command,
pays only for the comparison. Chunks are written in order and flushed, so a recorder that is
killed loses at most the chunk it was filling.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from aiconsole import __version__
from aiconsole.model import SCHEMA_VERSION, FleetSnapshot
from aiconsole.recording import columns, container
from aiconsole.recording.events import Event, action_event, snapshot_events
from aiconsole.recording.flat import DELETED
from aiconsole.recording.flat import Path as LeafPath
from aiconsole.recording.flat import diff as diff_leaves
from aiconsole.recording.precision import quantize

FORMAT = "aiconsole-recording"
VERSION = 1
CHUNK_FRAMES = 300
MAX_AUDIT_READ = 1024**2


class AuditTail:
    """New lines of the audit log since the recording started (read-only: the log belongs to
    the actions; a torn last line is left for the next read)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = self._size()

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def read(self) -> list[dict[str, Any]]:
        size = self._size()
        if size < self._offset:
            self._offset = 0  # the log was replaced: read the new one from its start
        if size == self._offset:
            return []
        try:
            with self.path.open("rb") as log:
                log.seek(self._offset)
                data = log.read(min(size - self._offset, MAX_AUDIT_READ))
        except OSError:
            return []
        whole = data[: data.rfind(b"\n") + 1]
        self._offset += len(whole)
        records = []
        for line in whole.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records


class RecordingWriter:
    def __init__(
        self,
        path: Path,
        *,
        chunk_frames: int = CHUNK_FRAMES,
        interval: float | None = None,
        audit_path: Path | None = None,
        groups: dict[str, str] | None = None,
    ) -> None:
        if chunk_frames < 1:
            raise ValueError("chunk_frames must be at least 1")
        self.path = path
        self.chunk_frames = chunk_frames
        self.frames = 0
        self.events: list[Event] = []
        self._audit = AuditTail(audit_path) if audit_path is not None else None
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = path.open("wb")
        self._offset = 0
        header = {
            "format": FORMAT,
            "version": VERSION,
            "created": time.time(),
            "snapshot_schema_version": SCHEMA_VERSION,
            "chunk_frames": chunk_frames,
            "interval": interval,
            "writer": f"aiconsole {__version__}",
            "groups": groups or {},
        }
        self._write(
            container.MAGIC + container.block(container.HEADER, json.dumps(header).encode())
        )
        self._index: list[dict[str, Any]] = []
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording")
        self._pending: list[Future[None]] = []
        self._previous: Any = None
        self._start_chunk()

    def _start_chunk(self) -> None:
        self._key: Any = None
        self._changes: dict[LeafPath, tuple[list[int], list[Any]]] = {}
        self._times: list[float] = []
        self._chunk_events: list[Event] = []
        self._chunk_audit: list[dict[str, Any]] = []
        self._first_frame = self.frames

    def add(self, snapshot: FleetSnapshot) -> list[Event]:
        """Record one snapshot; returns the events it brought (new XIDs, findings, actions)."""
        tree = quantize(msgspec.to_builtins(snapshot))
        local = len(self._times)
        events = snapshot_events(self._previous, tree, self.frames)
        if self._audit is not None:
            for record in self._audit.read():
                self._chunk_audit.append(record)
                event = action_event(record, self.frames)
                if event is not None:
                    events.append(event)
        if local == 0:
            self._key = tree
        else:
            changes = self._changes

            def emit(path: LeafPath, value: Any) -> None:
                column = changes.get(path)
                if column is None:
                    changes[path] = ([local], [value])
                elif column[0][-1] == local:
                    column[1][-1] = value  # a leaf replaced by a leaf of another type
                else:
                    column[0].append(local)
                    column[1].append(value)

            diff_leaves(self._previous, tree, emit)
        self._previous = tree
        self._times.append(float(snapshot.generated_at))
        self._chunk_events.extend(events)
        self.events.extend(events)
        self.frames += 1
        if len(self._times) >= self.chunk_frames:
            self._flush()
        return events

    def _flush(self) -> None:
        if not self._times:
            return
        work = (
            self._first_frame,
            self._times,
            self._key,
            self._changes,
            self._chunk_events,
            self._chunk_audit,
        )
        self._pending.append(self._worker.submit(self._write_chunk, *work))
        self._pending = [f for f in self._pending if not f.done() or f.result() is not None]
        self._start_chunk()

    def _write_chunk(
        self,
        first_frame: int,
        times: list[float],
        key: Any,
        changes: dict[LeafPath, tuple[list[int], list[Any]]],
        events: list[Event],
        audit: list[dict[str, Any]],
    ) -> None:
        paths: list[list[Any]] = []
        encoded: list[list[Any]] = []
        previous: LeafPath = ()
        for path, (frames, values) in sorted(changes.items(), key=_by_field):
            shared = 0
            for a, b in zip(previous, path, strict=False):
                if a != b or type(a) is not type(b):
                    break
                shared += 1
            paths.append([shared, *path[shared:]])
            previous = path
            encoded.append(columns.encode(frames, values, leaf(key, path)))
        document = {
            "first_frame": first_frame,
            "times": times,
            "events": events,
            "audit": audit,
            "key": key,
            "paths": paths,
            "columns": encoded,
        }
        offset = self._offset
        payload = container.compress(msgspec.json.encode(document))
        self._write(container.block(container.CHUNK, payload))
        self._file.flush()
        self._index.append({"offset": offset, "first_frame": first_frame, "times": times})

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._offset += len(data)

    def close(self) -> int:
        """Write what is left, the index and the trailer; returns the file's size."""
        if self._file.closed:
            return self._offset
        self._flush()
        self._worker.shutdown(wait=True)
        for future in self._pending:
            future.result()  # a failed chunk write fails the close, loudly
        index = {"chunks": self._index, "events": self.events}
        offset = self._offset
        self._write(
            container.block(container.INDEX, container.compress(msgspec.json.encode(index)))
        )
        self._write(container.trailer(offset))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._offset


def _by_field(item: tuple[LeafPath, Any]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Columns of the same field sit together, host after host: their values look alike, so
    xz packs them about 6% tighter than host by host (measured on the moving fleet)."""
    path = item[0]
    return (
        tuple(part for part in path if type(part) is str),
        tuple(part for part in path if type(part) is int),
    )


def leaf(tree: Any, path: LeafPath) -> Any:
    """The leaf at ``path`` in a builtins tree, or ``DELETED`` when there is none."""
    node = tree
    for part in path:
        found = (type(node) is dict and part in node) or (
            type(node) in (list, tuple) and type(part) is int and 0 <= part < len(node)
        )
        if not found:
            return DELETED
        node = node[part]
    return node if not (type(node) in (dict, list, tuple) and node) else DELETED
