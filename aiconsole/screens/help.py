"""The help overlay: every key of every screen, generated from the screens' own bindings so
it cannot drift from what the keys do.

The list scrolls inside the box; the line saying how to close it stays below the list, in
view at any terminal size.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from aiconsole.screens.fleet import FleetScreen
from aiconsole.screens.health import HealthScreen
from aiconsole.screens.host import HostScreen
from aiconsole.screens.jobs import JobsScreen
from aiconsole.screens.rebalance import RebalanceScreen
from aiconsole.screens.workloads import WorkloadsScreen
from aiconsole.widgets.fleet_table import FleetTable

# (section title, the classes whose bindings it lists, what keys cannot say)
SCREENS: tuple[tuple[str, tuple[type, ...], tuple[str, ...]], ...] = (
    (
        "Fleet",
        (FleetTable, FleetScreen),
        (
            "click a row to open its host, a column title to sort by it",
            "filter words match name, status or reason; !word hides matches",
        ),
    ),
    ("Host", (HostScreen,), ("Tab moves between the tables",)),
    ("Findings (f)", (HealthScreen,), ("click a row to open the finding's host",)),
    (
        "Slurm jobs (j)",
        (JobsScreen,),
        ("Tab moves between nodes and jobs; click a title to sort",),
    ),
    ("Kubernetes (w)", (WorkloadsScreen,), ("click a node or pod to open its host",)),
    ("Rebalance (b)", (RebalanceScreen,), ("plans are shown first; x asks before anything runs",)),
)
FOOTNOTE = (
    "Figures refresh every interval (--interval, default 1 s). A dash (–) is a value the "
    "host could not report; the JSON snapshot (aiconsole snapshot --json) says why."
)
KEY_WIDTH = 14


def key_lines(app: App[object], bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """(keys, what they do), keys doing the same on one line, in order."""
    merged: dict[str, list[str]] = {}
    for item in bindings:
        binding = item if isinstance(item, Binding) else Binding(*item)
        for key in binding.key.split(","):
            one = Binding(key.strip(), binding.action, binding.description)
            shown = binding.key_display or app.get_key_display(one)
            what = binding.description or binding.action.replace("_", " ")
            keys = merged.setdefault(what, [])
            if shown not in keys:
                keys.append(shown)
    return [(" ".join(keys), what) for what, keys in merged.items()]


def sections(app: App[object]) -> list[tuple[str, list[tuple[str, str]], tuple[str, ...]]]:
    """Every screen's keys, then the keys of the application (and of a replay) everywhere."""
    found = [
        (title, key_lines(app, [b for cls in classes for b in cls.__dict__["BINDINGS"]]), notes)
        for title, classes, notes in SCREENS
    ]
    for cls in reversed(type(app).__mro__):
        if "BINDINGS" in cls.__dict__ and cls.__module__.startswith("aiconsole"):
            lines = key_lines(app, cls.__dict__["BINDINGS"])
            if cls.__dict__.get("HELP_SECTION") == "Everywhere":
                lines.append((app.get_key_display(Binding("ctrl+p", "", "")), "command palette"))
                lines.append(("Escape", "back, or close this help"))
            found.append((cls.__dict__.get("HELP_SECTION", cls.__name__), lines, ()))
    return found


def section_lines(title: str, lines: list[tuple[str, str]], notes: tuple[str, ...]) -> list[Text]:
    out = [Text(title, style="bold")]
    for keys, what in lines:
        line = Text(f"  {keys:<{KEY_WIDTH}} ", style="bold")
        line.append(what)
        out.append(line)
    out.extend(Text(f"  {note}", style="italic") for note in notes)
    return [*out, Text()]


COLUMN_WIDTH = 74
"""One column of keys; a screen of twice that (and a gutter) shows the help in two."""


def help_text(app: App[object], columns: int = 1) -> Text:
    """The keys of every screen; in two columns side by side when ``columns`` is 2, so a
    large terminal shows all of it without scrolling."""
    blocks = [section_lines(*section) for section in sections(app)]
    total = sum(len(block) for block in blocks)
    left: list[Text] = []
    right: list[Text] = []
    for block in blocks:
        fits_left = columns == 1 or len(left) + len(block) / 2 <= total / 2
        (left if fits_left and not right else right).extend(block)  # order kept
    if right:
        rows = []
        for index in range(max(len(left), len(right))):
            row = left[index].copy() if index < len(left) else Text()
            row.truncate(COLUMN_WIDTH, pad=True)
            row.append("  ")
            row.append_text(right[index] if index < len(right) else Text())
            rows.append(row)
        left = rows
    text = Text()
    text.append("aiconsole", style="bold")
    text.append(": live view of GPU hosts\n\n")
    text.append_text(Text("\n").join(left))
    text.append(f"\n{FOOTNOTE}")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            with VerticalScroll(id="help-scroll"):
                yield Static(help_text(self.app), id="help-text")
            yield Static("Escape to close · ↑ ↓ PgUp PgDn scroll", id="help-hint")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()  # the arrows scroll the list at once

    def on_resize(self, event: events.Resize) -> None:
        columns = 2 if event.size.width >= 2 * COLUMN_WIDTH + 6 else 1
        self.query_one("#help-box").styles.width = 2 * COLUMN_WIDTH + 6 if columns == 2 else 80
        self.query_one("#help-text", Static).update(help_text(self.app, columns))
