"""Recording from a running console: the TUI's record key starts and stops one of these.

Headless: the app calls :meth:`LiveRecording.toggle` and shows the line it returns, and hands
every snapshot it publishes to :meth:`LiveRecording.add` (a no-op while not recording).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from aiconsole.model import FleetSnapshot
from aiconsole.recording.writer import RecordingWriter

SUFFIX = ".aicrec"


def recordings_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "aiconsole" / "recordings"


def new_recording_path(directory: Path | None = None, clock: float | None = None) -> Path:
    """A fresh file named after the local time it starts (a counter if that name is taken)."""
    directory = directory or recordings_dir()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(clock))
    path = directory / f"incident-{stamp}{SUFFIX}"
    number = 1
    while path.exists():
        number += 1
        path = directory / f"incident-{stamp}-{number}{SUFFIX}"
    return path


class LiveRecording:
    def __init__(
        self,
        directory: Path | None = None,
        interval: float | None = None,
        groups: dict[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.interval = interval
        self.groups = groups
        self.writer: RecordingWriter | None = None

    @property
    def active(self) -> bool:
        return self.writer is not None

    def toggle(self, audit_path: Path | None) -> str:
        """Start or stop; returns the line to show the operator (naming the file)."""
        if self.writer is not None:
            return self.stop()
        path = new_recording_path(self.directory)
        try:
            self.writer = RecordingWriter(
                path, interval=self.interval, audit_path=audit_path, groups=self.groups
            )
        except OSError as error:
            return f"cannot record to {path}: {error.strerror or error}"
        return f"recording to {path} (R again to stop)"

    def add(self, snapshot: FleetSnapshot) -> str | None:
        """Record one snapshot; returns a line for the operator when recording had to stop
        (a full disk must not take the console down with it)."""
        if self.writer is None:
            return None
        try:
            self.writer.add(snapshot)
        except (OSError, ValueError) as error:
            writer, self.writer = self.writer, None
            with contextlib.suppress(OSError, ValueError):
                writer.close()
            return f"recording to {writer.path} stopped: {error}"
        return None

    def stop(self) -> str:
        writer, self.writer = self.writer, None
        if writer is None:
            return "not recording"
        size = writer.close()
        return (
            f"recorded {writer.frames} snapshots, {len(writer.events)} events, "
            f"{size / 1024:.0f} KiB to {writer.path}"
        )
