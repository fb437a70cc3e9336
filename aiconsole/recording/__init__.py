"""Incident recordings: the fleet's snapshots, its events and the audit records of a period,
in one compressed file that replays frame by frame. The format is described in
docs/recording.md; this package is headless (no Textual, no Rich).
"""

from aiconsole.recording.container import RecordingError
from aiconsole.recording.events import Event
from aiconsole.recording.reader import Recording
from aiconsole.recording.writer import FORMAT, VERSION, RecordingWriter

__all__ = ["FORMAT", "VERSION", "Event", "Recording", "RecordingError", "RecordingWriter"]
