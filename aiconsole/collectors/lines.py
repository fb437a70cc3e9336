"""Bounded reading of what a host's probe writes: lines of a known maximum size, a stderr tail.

asyncssh's own ``readline`` buffers up to the channel window and then hands back the partial
line as if it were whole, copying the growing buffer on every packet; and stdout and stderr
share one window, so a probe that writes a few MiB to an unread stderr stalls its stdout too.
Here stdout is read in chunks and cut at newlines with a hard limit per line, and stderr is
read all the time, keeping only its last few KiB (enough for the last error message).
"""

from __future__ import annotations

import asyncssh

SSH_WINDOW = 2 * 1024 * 1024
"""The SSH channel window the console opens the probe's session with (asyncssh's default,
stated here because the line limit below is sized to it)."""

MAX_LINE_BYTES = SSH_WINDOW
"""The longest probe line accepted: a sample of a big host is tens of KiB, so a line this
long is not a probe talking. One line fits in one window, so a whole line can always arrive
without the console having to read ahead of it."""

READ_CHUNK = 64 * 1024
STDERR_TAIL_BYTES = 4096
"""How much of the probe's stderr is kept: the end, where an error message is."""


class LineTooLong(Exception):
    """A line grew past its limit before its newline came."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"probe line over {limit} bytes ({size} bytes without a newline)")
        self.size = size


class BoundedLines:
    """The lines of one byte stream, each at most ``limit`` bytes, never more buffered.

    A read that is cancelled (a timeout) loses nothing: what arrived stays buffered for the
    next call, so a line that trickles in byte by byte is still one line.
    """

    def __init__(self, stream: asyncssh.SSHReader[bytes], limit: int = MAX_LINE_BYTES) -> None:
        self._stream = stream
        self._limit = limit
        self._buffer = bytearray()
        self._searched = 0
        """Bytes of the buffer already searched for a newline (each byte is searched once)."""
        self._eof = False

    async def readline(self) -> bytes | None:
        """The next line without its newline; a last line without one; None at the end."""
        while True:
            newline = self._buffer.find(b"\n", self._searched)
            if newline >= 0:
                if newline > self._limit:
                    raise LineTooLong(newline, self._limit)
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                self._searched = 0
                return line
            self._searched = len(self._buffer)
            if len(self._buffer) > self._limit:
                raise LineTooLong(len(self._buffer), self._limit)
            if self._eof:
                if not self._buffer:
                    return None
                line = bytes(self._buffer)
                self._buffer.clear()
                self._searched = 0
                return line
            chunk = await self._stream.read(READ_CHUNK)
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True


async def read_tail(stream: asyncssh.SSHReader[bytes], keep: int = STDERR_TAIL_BYTES) -> bytes:
    """Read ``stream`` to its end, keeping only its last ``keep`` bytes."""
    tail = b""
    while True:
        try:
            chunk = await stream.read(READ_CHUNK)
        except (asyncssh.Error, OSError):
            return tail  # the connection went: stdout's reader reports that
        if not chunk:
            return tail
        tail = (tail + chunk)[-keep:]
