"""A row table for the mouse: one click on a row chooses it (as Enter does), a click on a
column title sorts by that column (again: the other way), the title marked with an arrow.

The order survives refreshes: :class:`~aiconsole.widgets.table_sync.TableSync` asks the table
to sort again after it has changed rows.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from aiconsole.widgets.sort_key import sort_key

Cell = str | Text


class ClickTable(DataTable[Cell]):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.sort_column: str | None = None
        self.sort_descending = False
        self._labels: dict[str, str] = {}

    async def _on_click(self, event: events.Click) -> None:
        # Textual runs this before DataTable's own handler, which moves the cursor and
        # chooses only a row already under it: a first click on another row chooses it here.
        meta = event.style.meta
        row, column = meta.get("row"), meta.get("column")
        if row is None or column is None or row < 0 or row >= self.row_count:
            return
        if self.show_cursor and row != self.cursor_row:
            row_key = self.ordered_rows[row].key
            self.post_message(DataTable.RowSelected(self, row, row_key))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if self.sort_column == key:
            self.sort_descending = not self.sort_descending
        else:
            self.sort_column, self.sort_descending = key, False
        self._mark_titles()
        self.resort()

    def clear_sort(self) -> None:
        """Back to the order the rows are given in (a screen's own order key)."""
        self.sort_column = None
        self._mark_titles()

    def resort(self) -> None:
        if self.sort_column is None or self.sort_column not in self.columns:
            return
        descending = self.sort_descending
        self.sort(
            self.sort_column,
            key=lambda cell: sort_key(str(cell), descending=descending),
            reverse=descending,
        )

    def _mark_titles(self) -> None:
        for key, column in self.columns.items():
            label = self._labels.setdefault(str(key.value), str(column.label))
            if key.value == self.sort_column:
                label += " ↓" if self.sort_descending else " ↑"
            column.label = Text(label)
        self.refresh()
