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
from textual.widgets.data_table import ColumnKey

from aiconsole.widgets.click_table import ClickTable

Cell = str | Text
Rows = Mapping[str, Sequence[Cell]]


class TableSync:
    def __init__(self, table: DataTable[Cell], column_keys: Sequence[str]) -> None:
        # A changed cell re-measures only itself, and only in a column that fits its values
        # (re-measuring whole columns is quadratic in the rows): such a column grows to a
        # longer value and never shrinks; columns of a fixed width keep it.
        self.table = table
        self.column_keys = list(column_keys)
        self._shown: dict[str, tuple[Cell, ...]] = {}

    def apply(self, rows: Rows) -> None:
        table = self.table
        changed = False
        kept = [key for key in rows if key in self._shown]
        if kept != [key for key in self._shown if key in rows]:
            # The order changed (a re-sort): rebuild; rows are few where this happens.
            table.clear()
            self._shown = {}
            changed = True
        for key in [k for k in self._shown if k not in rows]:
            table.remove_row(key)
            del self._shown[key]
            changed = True
        for key, cells in rows.items():
            wanted = tuple(cells)
            shown = self._shown.get(key)
            if shown is None:
                table.add_row(*map(plain, wanted), key=key)
                changed = True
            elif shown != wanted:
                changed = True
                for column, old, new in zip(self.column_keys, shown, wanted, strict=True):
                    if old != new:
                        text = plain(new)
                        # A column that fits its values grows to a longer one (a node's
                        # reason set later). Only growing: a narrower value would make
                        # DataTable measure the whole column.
                        fit = table.columns[ColumnKey(column)]
                        grow = fit.auto_width and text.cell_len > fit.content_width
                        table.update_cell(key, column, text, update_width=grow)
            self._shown[key] = wanted
        if isinstance(table, ClickTable) and changed:
            table.resort()  # a title clicked for an order: keep it


def plain(cell: Cell) -> Text:
    """The cell as text that is shown as it is (a ``str`` is never parsed as markup)."""
    return Text(cell) if isinstance(cell, str) else cell
