"""The log view: a job's or a pod's own output, followed live under a status line.

Lines arrive cleaned and bounded (:mod:`aiconsole.logs.lines`) and are written as ``Text``,
never as markup: ``[bold]`` in a job's output is shown as typed. The view keeps the last
:data:`aiconsole.logs.lines.DEFAULT_KEEP` lines; older ones scroll away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, RichLog, Static

from aiconsole.logs.lines import DEFAULT_KEEP, LogUnavailable
from aiconsole.text import clean
from aiconsole.widgets.render import Palette

LineSource = Callable[[Callable[[str], None]], AsyncIterator[str]]
"""Called with ``say`` (sets the status line), it yields the log's lines, last ones first."""


class LogScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("end", "follow", "Follow"),
    ]

    def __init__(self, title: str, source: LineSource) -> None:
        super().__init__()
        self._title = title
        self._source = source
        self.received = 0
        """Lines shown since the view opened (the widget keeps only the last ones)."""
        self.ended: str | None = None
        """Why the log stopped (an error or its end); None while following."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"{self._title}: opening…"), id="log-status")
        yield RichLog(
            id="log-lines", max_lines=DEFAULT_KEEP, markup=False, highlight=False, wrap=True
        )
        yield Footer()

    def on_mount(self) -> None:
        self.title = self._title
        self.query_one(RichLog).focus()
        self.run_worker(self._follow(), name="log", exclusive=True, exit_on_error=False)

    def _say(self, text: str) -> None:
        self.query_one("#log-status", Static).update(Text(f"{text}: following"))

    async def _follow(self) -> None:
        view = self.query_one(RichLog)
        status = self.query_one("#log-status", Static)
        palette = Palette(self.app.theme_variables)
        try:
            async for line in self._source(self._say):
                # Follow only while the view is at its end: an operator who scrolled up to
                # read an error keeps it in view (End goes back to following).
                view.write(Text(line), scroll_end=view.is_vertical_scroll_end)
                self.received += 1
        except LogUnavailable as error:
            self.ended = str(error)
            status.update(Text(self.ended, style=palette.level("error")))
            return
        except Exception as error:  # a broken link mid-way: say so, keep what was shown
            self.ended = clean(f"{self._title}: log stopped: {type(error).__name__}: {error}")
            status.update(Text(self.ended, style=palette.level("error")))
            return
        self.ended = "end of the log"
        status.update(Text(f"{self._title}: end of the log"))

    def action_follow(self) -> None:
        self.query_one(RichLog).scroll_end(animate=False)
