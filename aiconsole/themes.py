"""Colour themes: which one the console starts with, and keeping the one chosen in it.

The names are Textual's built-in themes; they are listed here, not asked of Textual, so the
config can be checked without importing the TUI (a test keeps the list equal to Textual's).
Where the theme comes from, first match wins:

1. ``--theme NAME`` on the command line;
2. the theme last chosen in the command palette, kept in ``$XDG_STATE_HOME/aiconsole/ui.json``
   (``~/.local/state/...``), unless the config's ``[ui] theme`` was changed since it was
   chosen (an edited config means the config is what is wanted now);
3. ``[ui] theme`` in the config;
4. ``textual-dark``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

THEMES = (
    "textual-dark",
    "textual-light",
    "nord",
    "gruvbox",
    "catppuccin-mocha",
    "dracula",
    "tokyo-night",
    "monokai",
    "flexoki",
    "catppuccin-latte",
    "catppuccin-frappe",
    "catppuccin-macchiato",
    "solarized-light",
    "solarized-dark",
    "rose-pine",
    "rose-pine-moon",
    "rose-pine-dawn",
    "atom-one-dark",
    "atom-one-light",
    "ansi-dark",
    "ansi-light",
)
DEFAULT_THEME = "textual-dark"


class UnknownTheme(ValueError):
    """A theme name that is not one of :data:`THEMES` (the message lists them)."""


def check_theme(name: str) -> str:
    """``name`` if it is a known theme, else :class:`UnknownTheme` naming the valid ones."""
    if name not in THEMES:
        shown = repr(name) if len(name) <= 40 else repr(name[:39] + "…")
        raise UnknownTheme(f"unknown theme {shown} (themes: {', '.join(THEMES)})")
    return name


def parse_ui(raw: Any, fail: Callable[[str | None, str, str], Exception]) -> str | None:
    """The config's ``[ui]`` table: ``theme = "nord"``; returns the theme, if any."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise fail(None, "ui", 'must be a table: theme = "NAME"')
    for key in raw:
        if key != "theme":
            raise fail("ui", key, "unknown key (expected theme)")
    theme = raw.get("theme")
    if theme is None:
        return None
    if not isinstance(theme, str):
        names = ", ".join(THEMES)
        raise fail("ui", "theme", f'must be a theme name, e.g. "nord" (themes: {names})')
    try:
        return check_theme(theme)
    except UnknownTheme as error:
        raise fail("ui", "theme", str(error)) from None


def state_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "aiconsole" / "ui.json"


@dataclass(frozen=True)
class ThemeKeeper:
    """Writes the theme chosen in the palette where the next start reads it."""

    path: Path
    configured: str | None
    """The config's theme when the choice was made (see the module's order)."""

    def kept(self) -> str | None:
        """The kept choice, if there is one, it is a known theme, and the config's theme is
        still the one it was chosen over. A missing or damaged file keeps nothing."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("config_theme") != self.configured:
            return None
        theme = data.get("theme")
        return theme if isinstance(theme, str) and theme in THEMES else None

    def keep(self, theme: str) -> str | None:
        """Record ``theme``; the problem as one line when it cannot be written."""
        record = {"theme": theme, "config_theme": self.configured}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(record) + "\n", encoding="utf-8")
            temporary.replace(self.path)  # whole or not at all
        except OSError as error:
            return f"cannot keep the theme in {self.path}: {error.strerror or error}"
        return None


def start_theme(command_line: str | None, keeper: ThemeKeeper) -> str:
    """The theme to start with (the module's order); ``command_line`` must be checked."""
    if command_line is not None:
        return check_theme(command_line)
    return keeper.kept() or keeper.configured or DEFAULT_THEME


def tui_theme(command_line: str | None, configured: str | None) -> tuple[str, ThemeKeeper]:
    """The console's theme at start, and where a theme chosen in it is kept."""
    keeper = ThemeKeeper(state_path(), configured)
    return start_theme(command_line, keeper), keeper
