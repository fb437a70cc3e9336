"""InfiniBand ports: state and rate from sysfs."""

from __future__ import annotations

from aiconsole.probe.common import _finite

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def parse_ib_state(text: str) -> str:
    """``4: ACTIVE`` -> ``ACTIVE`` (sysfs state and phys_state files)."""
    _, _, name = text.strip().partition(":")
    return name.strip() or text.strip()


def parse_ib_rate(text: str) -> Optional[float]:
    """``200 Gb/sec (4X HDR)`` -> 200.0; None when it does not start with a number."""
    words = text.split()
    return _finite(words[0]) if words else None
