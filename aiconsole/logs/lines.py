"""Cutting a byte stream from elsewhere into bounded, cleaned lines.

A job's output is written by whoever owns the job: a line may be megabytes long (a progress
bar without newlines), hold escape sequences or be in any encoding. Each line is cut at
:data:`MAX_LINE_CHARS` (the rest up to its newline is dropped, and the cut shows as an
ellipsis), decoded as UTF-8 with replacement, and passed through :func:`aiconsole.text.clean`
once, here, so every reader of the lines gets printable text.
"""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import Iterable

from aiconsole.text import ELLIPSIS, clean

MAX_LINE_CHARS = 2000
"""The longest line kept: an NCCL or CUDA error fits many times over."""

DEFAULT_KEEP = 2000
"""Lines a log view keeps (older ones scroll away): at most about 4 MB of text."""


class LogUnavailable(Exception):
    """The log cannot be read; the message is one line saying what and where."""


class LineCutter:
    """Feed it chunks; it hands back whole lines, each cleaned and at most ``limit`` long.

    Memory is bounded by ``limit``: the part of an overlong line past it is never kept.
    """

    def __init__(self, limit: int = MAX_LINE_CHARS) -> None:
        self._limit = limit
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._partial = ""
        self._overlong = False

    def feed(self, chunk: bytes) -> list[str]:
        text = self._decoder.decode(chunk)
        return self._split(text)

    def finish(self) -> list[str]:
        """The last line when the stream ended without a newline."""
        found = self._split(self._decoder.decode(b"", final=True))
        if self._partial or self._overlong:
            found.append(self._line(self._partial))
        self._partial, self._overlong = "", False
        return found

    def _split(self, text: str) -> list[str]:
        found: list[str] = []
        start = 0
        while True:
            newline = text.find("\n", start)
            piece = text[start:] if newline < 0 else text[start:newline]
            if not self._overlong:
                room = self._limit - len(self._partial)
                if len(piece) > room:
                    piece, self._overlong = piece[:room], True
                self._partial += piece
            if newline < 0:
                return found
            found.append(self._line(self._partial))
            self._partial, self._overlong = "", False
            start = newline + 1

    def _line(self, text: str) -> str:
        text = text.removesuffix("\r")  # CRLF line ends are not a control character to show
        cleaned = clean(text, self._limit)
        if self._overlong and not cleaned.endswith(ELLIPSIS):
            cleaned = cleaned[: self._limit - 1] + ELLIPSIS  # show that the line went on
        return cleaned


class LineRing:
    """The last ``keep`` lines and how many were ever added (a view knows what is new)."""

    def __init__(self, keep: int = DEFAULT_KEEP) -> None:
        self.lines: deque[str] = deque(maxlen=keep)
        self.added = 0

    def extend(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.lines.append(line)
            self.added += 1
