"""The help overlay: what each key does, from the bindings themselves."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_TEXT = """\
[b]aiconsole[/b]: live view of GPU hosts

[b]Fleet[/b]
  ↑ ↓ PgUp PgDn   move between hosts
  Enter            open the host under the cursor
  s / S            sort by the next column / reverse the order
                   (or click a column title)
  /                filter by name, status or reason;
                   !word hides matches; Escape clears
  g                group by status, by inventory group, or not

[b]Host[/b]
  ↑ ↓ Tab          scroll, move between tables
  Escape           back to the fleet

[b]Everywhere[/b]
  ?                this help
  b                rebalance (p: policy, x: carry out)
  Ctrl+P           command palette
  q                quit

Figures refresh every interval (--interval, default 1 s).
A dash (–) is a value the host could not report; the JSON
snapshot (aiconsole snapshot --json) says why.\
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(HELP_TEXT, id="help-text")
            yield Static("Escape to close", id="help-hint")
