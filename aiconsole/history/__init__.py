"""Per host and per GPU history over the last window, for the host screen's charts and the
sparklines (:mod:`aiconsole.history.store`)."""

from aiconsole.history.store import (
    DEFAULT_WINDOW_S,
    GPU_SLOT_BYTES,
    GPU_TRACKS,
    HOST_SLOT_BYTES,
    HOST_TRACKS,
    RECENT_POINTS,
    GpuHistory,
    History,
    Series,
    bytes_needed,
    slots_for,
)

__all__ = [
    "DEFAULT_WINDOW_S",
    "GPU_SLOT_BYTES",
    "GPU_TRACKS",
    "HOST_SLOT_BYTES",
    "HOST_TRACKS",
    "RECENT_POINTS",
    "GpuHistory",
    "History",
    "Series",
    "bytes_needed",
    "slots_for",
]
