"""The host's files, read under a root directory, some kept open between samples."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional


class Host:
    """Paths of one host's /proc and /sys: ``/`` in production, a recorded tree in tests.

    Files read on every sample stay open and are re-read from offset 0 (procfs and sysfs
    regenerate their content on each read): that saves a path lookup, an open and a close
    per file per sample, which is a good share of the probe's cost. The number of files
    kept open is bounded, so a host with thousands of interfaces cannot exhaust its fds.
    """

    MAX_OPEN_FILES = 128
    READ_CHUNK = 65536

    def __init__(self, root: str = "/") -> None:
        self.root = root
        self._open: Dict[str, int] = {}

    def path(self, relative: str) -> str:
        return os.path.join(self.root, relative)

    def read(
        self, relative: str, keep_open: bool = False, limit: Optional[int] = None
    ) -> Optional[str]:
        """The file's text (its first ``limit`` bytes), or None if it cannot be read (gone,
        no permission, EINVAL)."""
        fd = self._open.get(relative)
        try:
            if fd is None:
                fd = os.open(self.path(relative), os.O_RDONLY | os.O_CLOEXEC)
                if keep_open and len(self._open) < self.MAX_OPEN_FILES:
                    self._open[relative] = fd
            return self._read_all(fd, limit).decode("utf-8", "replace")
        except OSError:
            self._forget(relative)
            return None
        finally:
            if fd is not None and relative not in self._open:
                os.close(fd)

    def _read_all(self, fd: int, limit: Optional[int] = None) -> bytes:
        chunks: List[bytes] = []
        offset = 0
        while limit is None or offset < limit:
            size = self.READ_CHUNK if limit is None else min(self.READ_CHUNK, limit - offset)
            chunk = os.pread(fd, size, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)

    def _forget(self, relative: str) -> None:
        # The file went away under an open descriptor (a NIC removed, say): reopen next time.
        self._open.pop(relative, None)

    def close(self) -> None:
        for fd in self._open.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._open.clear()

    def readlink(self, relative: str) -> Optional[str]:
        """Where a symbolic link points (an fd under /proc/PID/fd), or None."""
        try:
            return os.readlink(self.path(relative))
        except OSError:
            return None

    def listdir(self, relative: str) -> List[str]:
        try:
            return sorted(os.listdir(self.path(relative)))
        except OSError:
            return []
