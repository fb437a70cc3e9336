"""aiconsole: one console for on-call AI/GPU infrastructure."""

__version__ = "0.1.0"
