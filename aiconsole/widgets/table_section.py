"""A titled table of a host's rows, or a line saying why there are none: the shape of most
host sections. Subclasses say what the rows are; this keeps the table current in place.

Children keep the ids ``{key}-title``, ``{key}-empty`` and ``{key}-table``, so a screen (and
its tests) can reach any section's parts by name.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from aiconsole.widgets.click_table import ClickTable
from aiconsole.widgets.host_view import HostView
from aiconsole.widgets.table_sync import Rows, TableSync

Columns = tuple[tuple[str, int | None], ...]
"""(column, width): columns whose values change get a fixed width; None fits the values
present when a row is added (names, mount points, commands)."""


class TableSection(Vertical):
    DEFAULT_CSS = """
    TableSection {
        height: auto;
    }
    """

    key: ClassVar[str]
    title: ClassVar[str]
    columns: ClassVar[Columns]
    empty: ClassVar[str] = "nothing to show"

    def __init__(self) -> None:
        super().__init__(id=f"{self.key}-section")
        self._sync: TableSync | None = None

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="section-title", id=f"{self.key}-title")
        yield Static(id=f"{self.key}-empty", classes="section-empty")
        table = ClickTable(id=f"{self.key}-table")  # a click on a title sorts
        for column, width in self.columns:
            table.add_column(column, key=column, width=width)
        yield table

    def rows(self, view: HostView) -> Rows:
        raise NotImplementedError

    def empty_reason(self, view: HostView) -> str:
        return self.empty

    def title_text(self, view: HostView) -> Text | None:
        """A title that changes with the host (None: the fixed :attr:`title`)."""
        return None

    def show(self, view: HostView) -> None:
        title = self.title_text(view)
        if title is not None:
            self.query_one(f"#{self.key}-title", Static).update(title)
        rows = self.rows(view)
        table = self.query_one(f"#{self.key}-table", DataTable)
        if self._sync is None:
            self._sync = TableSync(table, [name for name, _ in self.columns])
        self._sync.apply(rows)
        empty = self.query_one(f"#{self.key}-empty", Static)
        table.display = bool(rows)
        empty.display = not rows
        if not rows:
            empty.update(Text(self.empty_reason(view)))
