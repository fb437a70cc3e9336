"""Human-readable numbers for screens and text output (snapshots stay raw; views format)."""

from __future__ import annotations

NA = "–"
"""Shown for a value that is unavailable (never a fake 0)."""

_BINARY = ("B", "K", "M", "G", "T", "P")


def bytes_short(value: float | None) -> str:
    """1536 -> '1.5K', 85520809984 -> '79.6G' (binary units, compact for tables)."""
    if value is None:
        return NA
    size = float(value)
    for unit in _BINARY:
        if abs(size) < 1024 or unit == _BINARY[-1]:
            if unit == "B":
                return f"{size:.0f}B"
            return f"{size:.1f}{unit}" if abs(size) < 100 else f"{size:.0f}{unit}"
        size /= 1024
    raise AssertionError("unreachable")


def rate_short(value: float | None) -> str:
    return NA if value is None else bytes_short(value) + "/s"


def percent(value: float | None, digits: int = 0) -> str:
    return NA if value is None else f"{value:.{digits}f}%"


def number(value: float | None, unit: str = "", digits: int = 0) -> str:
    return NA if value is None else f"{value:.{digits}f}{unit}"


def duration(seconds: float | None) -> str:
    """Compact age/uptime: '0.4s', '12s', '5m', '3h', '2d4h'."""
    if seconds is None:
        return NA
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"
    return f"{seconds // 86400:.0f}d{seconds % 86400 // 3600:.0f}h"


def power(watts: float | None) -> str:
    """'512W', '5.6kW' (a node of 8 GPUs draws kilowatts)."""
    if watts is None:
        return NA
    return f"{watts:.0f}W" if watts < 1000 else f"{watts / 1000:.1f}kW"
