"""The Textual application: owns the collectors' tasks and publishes snapshots to screens."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from aiconsole.fleet import Fleet
from aiconsole.history import GpuHistory
from aiconsole.model import FleetSnapshot
from aiconsole.screens.fleet import FleetScreen
from aiconsole.screens.help import HelpScreen
from aiconsole.screens.host import HostScreen


class ConsoleApp(App[None]):
    CSS_PATH = "screens/console.tcss"
    TITLE = "aiconsole"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    fleet_snapshot: reactive[FleetSnapshot | None] = reactive(None, always_update=True)
    """The latest fleet snapshot; screens watch it. Replaced, never mutated."""

    def __init__(
        self, fleet: Fleet, *, refresh_interval: float = 1.0, collect: bool = True
    ) -> None:
        """``collect=False`` shows whatever the store holds without polling (tests, pictures)."""
        super().__init__()
        self.fleet = fleet
        self.refresh_interval = refresh_interval
        self._collect = collect
        self.gpu_history = GpuHistory()

    def on_mount(self) -> None:
        self.push_screen(FleetScreen())
        if self._collect:
            for collector in self.fleet.collectors:
                # Each source in its own task: a slow one delays only itself.
                self.run_worker(
                    collector.run(),
                    name=f"collect {collector.name}",
                    group="collectors",
                    exit_on_error=False,
                    description=f"collector for {collector.name}",
                )
            for cluster in self.fleet.clusters:
                self.run_worker(
                    cluster.run(),
                    name=f"slurm {cluster.name}",
                    group="collectors",
                    exit_on_error=False,
                    description=f"Slurm collector for {cluster.name}",
                )
        self.publish_snapshot()
        self.set_interval(self.refresh_interval, self.publish_snapshot, name="refresh")

    def publish_snapshot(self) -> None:
        """Hand the screens the store's current state (data ages move even without new data)."""
        snapshot = self.fleet.store.snapshot()
        self.gpu_history.record(snapshot)
        self.fleet_snapshot = snapshot

    def open_host(self, name: str) -> None:
        self.push_screen(HostScreen(name))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
