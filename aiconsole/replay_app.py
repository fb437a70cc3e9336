"""The TUI on a recording: the live console's screens, fed from the file, with a time cursor.

:class:`ReplayApp` is the :class:`~aiconsole.app.ConsoleApp` with no collectors and a
read-only policy; instead of the store's present it publishes the recorded frame under the
cursor (and puts that frame's hosts and clusters in the store, for anything that reads it).
The header's title is the status line: the recorded time, the offset into the recording, the
frame, and the next event. Keys: ``.``/``,`` step a frame, ``>``/``<`` ten, ``]``/``[`` the
next/previous event (an XID, a finding, an action), ``space`` plays at the recorded pace,
``t`` lists the events.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from aiconsole.actions.policy import Policy
from aiconsole.app import ConsoleApp
from aiconsole.fleet import Fleet
from aiconsole.history import History
from aiconsole.model import FleetSnapshot
from aiconsole.recording import Event, Recording, RecordingError
from aiconsole.recording.reader import moment
from aiconsole.store import FleetStore

EVENT_LABEL = {"xid": "XID", "finding": "finding", "action": "action"}


class ReplayApp(ConsoleApp):
    TITLE = "aiconsole replay"
    HELP_SECTION = "Replay"
    BINDINGS = [
        Binding("full_stop", "step(1)", "Step", key_display="."),
        Binding("comma", "step(-1)", "Back", key_display=","),
        Binding("greater_than_sign", "step(10)", "+10", show=False),
        Binding("less_than_sign", "step(-10)", "-10", show=False),
        Binding("right_square_bracket", "next_event", "Next event", key_display="]"),
        Binding("left_square_bracket", "previous_event", "Prev event", key_display="["),
        Binding("space", "play", "Play/pause"),
        Binding("t", "timeline", "Timeline"),
    ]

    def __init__(self, recording: Recording, *, frame: int = 0) -> None:
        self.recording = recording
        self.frame = max(0, min(frame, len(recording.times) - 1))
        self.playing = False
        self.shown: FleetSnapshot | None = None
        super().__init__(
            Fleet(FleetStore()),
            refresh_interval=recording.header.interval or 1.0,
            collect=False,
            policy=Policy(read_only=True),
        )
        self.fleet.group_of = dict(recording.header.groups)

    # -- the cursor ------------------------------------------------------------------------------

    def publish_snapshot(self) -> None:
        """The refresh tick: advance while playing, else show the frame under the cursor."""
        if self.playing and self.frame < len(self.recording.times) - 1:
            self.frame += 1
            self._show(continuous=True)
        elif self.shown is None:
            self._show(continuous=False)
        else:
            self.playing = False
            self._update_status()

    def move_to(self, frame: int) -> None:
        frame = max(0, min(frame, len(self.recording.times) - 1))
        continuous = frame == self.frame + 1
        self.frame = frame
        self._show(continuous=continuous)

    def _show(self, *, continuous: bool) -> None:
        try:
            snapshot = self.recording.snapshot(self.frame)
        except RecordingError as error:
            self.playing = False
            self.notify(str(error), severity="error", markup=False)
            return
        if not continuous:
            # The charts show only what was stepped through.
            self.gpu_history = History(self.gpu_history.window_s, self.gpu_history.interval_s)
        self.gpu_history.record(snapshot)
        store = FleetStore(clock=lambda: snapshot.generated_at)
        for host in snapshot.hosts:
            store.put(host)
        for cluster in snapshot.clusters:
            store.put_cluster(cluster)
        self.fleet.store = store
        self.shown = snapshot
        self.fleet_snapshot = snapshot
        self._update_status()

    def _update_status(self) -> None:
        times = self.recording.times
        at = times[self.frame]
        # Short enough for 80 columns up to the frame: the next event follows, then the
        # screen's own counts (wider terminals show those too).
        parts = [
            f"REPLAY {moment(at)[:19].replace('T', ' ')}",
            f"+{_clock(at - times[0])}/{_clock(times[-1] - times[0])}",
            f"frame {self.frame + 1}/{len(times)}",
        ]
        upcoming = self.next_event()
        if upcoming is not None:
            parts.append(f"next: {describe(upcoming)} in {_clock(upcoming.time - at)}")
        if self.playing:
            parts.append("playing")
        self.title = " · ".join(parts)

    def next_event(self) -> Event | None:
        return next((e for e in self.recording.events if e.frame > self.frame), None)

    def previous_event(self) -> Event | None:
        return next((e for e in reversed(self.recording.events) if e.frame < self.frame), None)

    # -- keys ------------------------------------------------------------------------------------

    def action_step(self, frames: int) -> None:
        self.playing = False
        self.move_to(self.frame + frames)

    def action_next_event(self) -> None:
        event = self.next_event()
        if event is None:
            self.notify("no event after this frame", markup=False)
            return
        self.playing = False
        self.move_to(event.frame)
        self.notify(describe(event), markup=False)

    def action_previous_event(self) -> None:
        event = self.previous_event()
        if event is None:
            self.notify("no event before this frame", markup=False)
            return
        self.playing = False
        self.move_to(event.frame)
        self.notify(describe(event), markup=False)

    def action_play(self) -> None:
        self.playing = not self.playing
        self._update_status()

    def action_timeline(self) -> None:
        if not isinstance(self.screen, TimelineScreen):
            self.push_screen(TimelineScreen(self.recording, self.frame), self._jump)

    def _jump(self, frame: int | None) -> None:
        if frame is not None:
            self.playing = False
            self.move_to(frame)

    def action_toggle_recording(self) -> None:
        self.notify("this is a replay: there is nothing live to record", markup=False)


def describe(event: Event) -> str:
    where = f" on {event.host}" if event.host else ""
    return f"{EVENT_LABEL.get(event.kind, event.kind)}{where}: {event.text}"


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class TimelineScreen(ModalScreen[int | None]):
    """The recording's events in order; Enter jumps to the one under the cursor."""

    DEFAULT_CSS = """
    TimelineScreen { align: center middle; }
    #timeline-box {
        width: 90%; height: 80%; border: round $accent; background: $surface; padding: 0 1;
    }
    #timeline { height: 1fr; }
    """

    BINDINGS = [
        Binding("escape", "dismiss_none", "Close"),
        Binding("t", "dismiss_none", "Close", show=False),
    ]

    def __init__(self, recording: Recording, frame: int) -> None:
        super().__init__()
        self.recording = recording
        self.frame = frame

    def compose(self) -> ComposeResult:
        start = self.recording.times[0]
        options = [
            # Text, not markup: host names and action reasons come from elsewhere.
            Option(Text(f"+{_clock(event.time - start)}  {describe(event)}"), id=str(number))
            for number, event in enumerate(self.recording.events)
        ]
        with Vertical(id="timeline-box"):
            yield Static(Text(f"{len(options)} events · Enter jumps · Escape closes"))
            yield OptionList(*options, id="timeline")

    def on_mount(self) -> None:
        timeline = self.query_one("#timeline", OptionList)
        later = [n for n, e in enumerate(self.recording.events) if e.frame >= self.frame]
        if later:
            timeline.highlighted = later[0]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.recording.events[event.option_index].frame)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
