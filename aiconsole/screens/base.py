"""What every live screen shares: follow the app's snapshot, render only while visible."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen
from textual.widgets import Footer

from aiconsole.health.context import host_names
from aiconsole.model import FleetSnapshot
from aiconsole.text import clean
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
        for footer in self.query(Footer):
            # Room for a screen's keys at 80 columns; Ctrl+P is in the help screen.
            footer.compact = True
            footer.show_command_palette = False
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

    def open_node(self, node: str | None) -> None:
        """Open the host screen of a scheduler's node (Slurm or Kubernetes), if it is one of
        the watched hosts; else say so."""
        snapshot = self.console.fleet_snapshot
        if node is None or snapshot is None:
            return
        host = next((h.name for h in snapshot.hosts if node in host_names(h)), None)
        if host is None:
            self.notify(
                f"{clean(node, 80)} is not among the watched hosts (--hosts, or the config's)",
                markup=False,
            )
            return
        self.console.open_host(host)
