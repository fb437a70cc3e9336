"""The file's framing: a magic, then blocks, then a trailer pointing at the index.

Every block is ``kind`` (1 byte: ``H`` header, ``C`` chunk, ``I`` index), ``length`` (4 bytes,
big-endian), ``crc32`` of the payload (4 bytes), then the payload. The header is plain JSON;
chunk and index payloads are xz (LZMA) streams of JSON. The trailer, the last 16 bytes of a
closed file, is ``AICREND\\0`` and the index block's offset (8 bytes, big-endian).

A file that was not closed (the recorder was killed) has no trailer: the reader then walks
the blocks from the start and keeps every whole chunk. Sizes are bounded when reading (a
recording is input like any other): a block over :data:`MAX_BLOCK` bytes or a payload that
inflates past :data:`MAX_INFLATED` is refused, not read.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from typing import BinaryIO

MAGIC = b"AICONREC"
TRAILER_MAGIC = b"AICREND\0"
BLOCK_HEAD = struct.Struct(">cII")
TRAILER = struct.Struct(">8sQ")
HEADER, CHUNK, INDEX = b"H", b"C", b"I"
KINDS = (HEADER, CHUNK, INDEX)
MAX_BLOCK = 256 * 1024**2
MAX_INFLATED = 1024**3
MAX_HEADER = 64 * 1024


class RecordingError(Exception):
    """A recording that cannot be read: the message is one line saying what and where."""


def compress(payload: bytes) -> bytes:
    # preset 6: lzma's default; the chunk is compressed once, off the display's thread, and
    # lzma finds the same fields repeated across hosts that zlib's 32 KiB window cannot.
    return lzma.compress(payload, format=lzma.FORMAT_XZ, preset=6)


def inflate(payload: bytes, where: str) -> bytes:
    decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    try:
        data = decompressor.decompress(payload, max_length=MAX_INFLATED)
    except lzma.LZMAError as error:
        raise RecordingError(f"{where}: not a valid xz stream ({error})") from None
    if not decompressor.eof:
        if decompressor.needs_input:
            raise RecordingError(f"{where}: compressed data ends early")
        raise RecordingError(f"{where}: inflates past {MAX_INFLATED // 1024**2} MiB")
    return data


def block(kind: bytes, payload: bytes) -> bytes:
    return BLOCK_HEAD.pack(kind, len(payload), zlib.crc32(payload)) + payload


def trailer(index_offset: int) -> bytes:
    return TRAILER.pack(TRAILER_MAGIC, index_offset)


def read_block(file: BinaryIO, offset: int, name: str) -> tuple[bytes, bytes, int] | None:
    """(kind, payload, next offset) of the block at ``offset``; None at a clean end of file
    or where a block was cut short (a recorder that did not finish). Raises
    :class:`RecordingError` on a block that is there but wrong."""
    file.seek(offset)
    head = file.read(BLOCK_HEAD.size)
    if len(head) < BLOCK_HEAD.size:
        return None
    kind, length, crc = BLOCK_HEAD.unpack(head)
    if head.startswith(TRAILER_MAGIC):
        return None  # the trailer
    if kind not in KINDS:
        raise RecordingError(f"{name}: unknown block at byte {offset} (not a recording?)")
    if length > MAX_BLOCK:
        raise RecordingError(f"{name}: block at byte {offset} claims {length} bytes")
    payload = file.read(length)
    if len(payload) < length:
        return None
    if zlib.crc32(payload) != crc:
        raise RecordingError(f"{name}: corrupt block at byte {offset} (checksum mismatch)")
    return kind, payload, offset + BLOCK_HEAD.size + length


def read_trailer(file: BinaryIO, size: int) -> int | None:
    """The index block's offset, or None when the file has no trailer (not closed)."""
    if size < len(MAGIC) + TRAILER.size:
        return None
    file.seek(size - TRAILER.size)
    magic, offset = TRAILER.unpack(file.read(TRAILER.size))
    if magic != TRAILER_MAGIC or not len(MAGIC) <= offset < size - TRAILER.size:
        return None
    return int(offset)
