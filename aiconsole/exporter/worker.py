"""Encoding in a child process: the console hands it a snapshot, it hands back the bytes.

prometheus_client spends microseconds per sample, seconds for a large fleet; in the console's
own process that time would be taken under the GIL from the event loop and from every scrape
being served. Here it runs in a process of its own, which holds the private registry and the
custom collector, and the console only waits on a pipe (the GIL released).

Frames on both pipes: a 4-byte big-endian length, then msgpack. Run as
``python -m aiconsole.exporter.worker``; it exits when its stdin closes.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
from typing import IO

import msgspec

from aiconsole.model import FleetSnapshot

_LENGTH = struct.Struct(">I")


class Request(msgspec.Struct):
    accept: str
    snapshot: FleetSnapshot


class Response(msgspec.Struct):
    content_type: str = ""
    body: bytes = b""
    error: str | None = None


class EncoderUnavailable(Exception):
    """The encoding process failed or died (one line)."""


def _read_frame(stream: IO[bytes]) -> bytes | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    size = _LENGTH.unpack(head)[0]
    data = stream.read(size)
    return data if len(data) == size else None


def _write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def main() -> None:
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.registry import CollectorRegistry

    from aiconsole.exporter.families import SnapshotCollector

    # Background work: whatever else wants the CPU (the console, a scrape being served) first.
    os.nice(10)
    current: list[FleetSnapshot | None] = [None]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(lambda: current[0]))
    decoder = msgspec.msgpack.Decoder(Request)
    encoder = msgspec.msgpack.Encoder()
    while (frame := _read_frame(sys.stdin.buffer)) is not None:
        try:
            request = decoder.decode(frame)
            encode, content_type = choose_encoder(request.accept)
            current[0] = request.snapshot
            response = Response(content_type=content_type, body=encode(registry))
        except Exception as error:  # reported to the console as one line, never raised
            response = Response(error=f"{type(error).__name__}: {error}")
        finally:
            current[0] = None
        _write_frame(sys.stdout.buffer, encoder.encode(response))


class EncoderProcess:
    """The console's side: one child, started on first use, restarted if it dies."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(Response)

    def encode(self, accept: str, snapshot: FleetSnapshot) -> tuple[bytes, str]:
        request = self._encoder.encode(Request(accept=accept, snapshot=snapshot))
        with self._lock:
            for attempt in (1, 2):  # a child that died is replaced once
                process = self._started()
                assert process.stdin is not None and process.stdout is not None
                try:
                    _write_frame(process.stdin, request)
                    frame = _read_frame(process.stdout)
                except OSError:
                    frame = None
                if frame is not None:
                    response = self._decoder.decode(frame)
                    if response.error:
                        raise EncoderUnavailable(f"metrics encoder: {response.error}")
                    return response.body, response.content_type
                self._stop()
                if attempt == 2:
                    raise EncoderUnavailable("metrics encoder: the encoding process died")
        raise AssertionError("unreachable")

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "aiconsole.exporter.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self._process

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def close(self) -> None:
        with self._lock:
            self._stop()


if __name__ == "__main__":
    main()
