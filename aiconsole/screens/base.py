"""What every live screen shares: follow the app's snapshot, render only while visible."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

from aiconsole.model import FleetSnapshot
from aiconsole.widgets.render import Palette

if TYPE_CHECKING:
    from aiconsole.app import ConsoleApp


class LiveScreen(Screen[None]):
    """Subclasses implement :meth:`render_snapshot`; it runs only while the screen is on top.

    A screen buried under another skips redraws (nobody is looking) and catches up with the
    latest snapshot when it is shown again.
    """

    def __init__(self) -> None:
        super().__init__()
        self._stale = False

    @property
    def console(self) -> ConsoleApp:
        from aiconsole.app import ConsoleApp

        assert isinstance(self.app, ConsoleApp)
        return self.app

    @property
    def palette(self) -> Palette:
        return Palette(self.app.theme_variables)

    def on_mount(self) -> None:
        self.watch(self.app, "fleet_snapshot", self._snapshot_changed, init=True)

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self._snapshot_changed(self.console.fleet_snapshot)

    def _snapshot_changed(self, snapshot: FleetSnapshot | None) -> None:
        if snapshot is None:
            return
        if not self.is_current:
            self._stale = True
            return
        self.render_snapshot(snapshot)

    def render_snapshot(self, snapshot: FleetSnapshot) -> None:
        """Draw ``snapshot``; every live screen overrides this (the base draws nothing)."""
