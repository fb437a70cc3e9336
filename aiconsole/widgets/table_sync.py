"""Bring a DataTable to a wanted set of rows by changing only what changed.

Rebuilding a table every refresh resets the cursor and scroll position and costs time in
proportion to the fleet; here only cells whose text differs are written, rows that appeared
are added, and rows that vanished are removed.

A DataTable reads a ``str`` cell as Rich markup: a process named ``[/x]`` would crash it and
one named ``[@click=...]`` would act when clicked. Every ``str`` cell therefore reaches the
table as plain :class:`~rich.text.Text`, here, so no screen can forget it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text
Rows = Mapping[str, Sequence[Cell]]


class TableSync:
    def __init__(self, table: DataTable[Cell], column_keys: Sequence[str]) -> None:
        # Cells are written without re-measuring the column (that is quadratic in the rows):
        # columns whose values change need a fixed width; the others fit what was added.
        self.table = table
        self.column_keys = list(column_keys)
        self._shown: dict[str, tuple[Cell, ...]] = {}

    def apply(self, rows: Rows) -> None:
        table = self.table
        kept = [key for key in rows if key in self._shown]
        if kept != [key for key in self._shown if key in rows]:
            # The order changed (a re-sort): rebuild; rows are few where this happens.
            table.clear()
            self._shown = {}
        for key in [k for k in self._shown if k not in rows]:
            table.remove_row(key)
            del self._shown[key]
        for key, cells in rows.items():
            wanted = tuple(cells)
            shown = self._shown.get(key)
            if shown is None:
                table.add_row(*map(plain, wanted), key=key)
            elif shown != wanted:
                for column, old, new in zip(self.column_keys, shown, wanted, strict=True):
                    if old != new:
                        table.update_cell(key, column, plain(new))
            self._shown[key] = wanted


def plain(cell: Cell) -> Text:
    """The cell as text that is shown as it is (a ``str`` is never parsed as markup)."""
    return Text(cell) if isinstance(cell, str) else cell
