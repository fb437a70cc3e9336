"""Cell renderers: bars and status words, coloured from the running theme."""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Text

from aiconsole import units

BAR_FULL = "█"
BAR_PARTS = " ▏▎▍▌▋▊▉"

STATUS_LEVEL = {
    "ok": "success",
    "connecting": "secondary",
    "stale": "warning",
}
"""Theme variable per host status; any status not listed is an error."""


class Palette:
    """Styles taken from the app's theme variables (so themes recolour everything)."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self._styles = {
            level: Style(color=variables.get(level, "default"))
            for level in ("success", "warning", "error", "secondary", "accent")
        }
        self.dim = Style(dim=True)

    def level(self, name: str) -> Style:
        return self._styles.get(name, self._styles["error"])

    def for_status(self, status: str) -> Style:
        return self.level(STATUS_LEVEL.get(status, "error"))

    def level_styles(self) -> dict[str, Style]:
        """Every level by name, ``dim`` included (for widgets that style by level name)."""
        return {**self._styles, "dim": self.dim}

    @staticmethod
    def percent_level(value: float | None, warn: float = 80, error: float = 95) -> str:
        """Level name of a percentage: fine, high, or critical."""
        if value is None:
            return "dim"
        if value >= error:
            return "error"
        if value >= warn:
            return "warning"
        return "success"

    def for_percent(self, value: float | None, warn: float = 80, error: float = 95) -> Style:
        level = self.percent_level(value, warn, error)
        return self.dim if level == "dim" else self.level(level)


def bar(fraction: float | None, width: int, style: Style) -> Text:
    """A horizontal bar of ``width`` cells with eighth-cell resolution."""
    if fraction is None:
        return Text(" " * width)
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    body = BAR_FULL * full + (BAR_PARTS[part] if part and full < width else "")
    return Text(body.ljust(width), style=style)


def percent_bar(value: float | None, width: int, palette: Palette) -> Text:
    """``████▌     87%``: a bar and the number, coloured by level."""
    style = palette.for_percent(value)
    text = bar(None if value is None else value / 100, width, style)
    text.append(f" {units.percent(value):>4}", style=style if value is not None else palette.dim)
    return text


STATUS_LABEL = {"host_key_refused": "key refused"}
"""Short labels where the status name would not fit the fleet table's column."""

COLUMN_BLOCKS = " ▁▂▃▄▅▆▇█"


def status_text(status: str, palette: Palette) -> Text:
    label = STATUS_LABEL.get(status, status.replace("_", " "))
    return Text(label, style=palette.for_status(status))


def column_bars(values: list[float] | tuple[float, ...], palette: Palette) -> Text:
    """One vertical bar per value (per-core CPU): ``▂▇█▁``."""
    text = Text()
    for value in values:
        level = round(min(100.0, max(0.0, value)) / 100 * (len(COLUMN_BLOCKS) - 1))
        text.append(COLUMN_BLOCKS[level], style=palette.for_percent(value))
    return text


def sparkline(values: list[float], width: int, top: float | None, style: Style) -> Text:
    """The newest ``width`` buckets of ``values`` as ``▁▃▇``, scaled to ``top``.

    Each character is the highest value of its bucket, so a one-sample spike still shows; a
    bucket with no values (NaN: the GPU was lost or not read) is a blank.
    """
    per_char = max(1, -(-len(values) // width))
    text = Text()
    for start in range(max(0, len(values) - per_char * width), len(values), per_char):
        bucket = [v for v in values[start : start + per_char] if v == v]  # drop NaN
        if not bucket or not top:
            text.append(" ")
            continue
        level = round(min(1.0, max(0.0, max(bucket) / top)) * (len(COLUMN_BLOCKS) - 2)) + 1
        text.append(COLUMN_BLOCKS[level], style=style)
    return text
