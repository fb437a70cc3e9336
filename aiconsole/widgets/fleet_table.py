"""A virtual table for fleets of any size: only the visible lines are ever rendered.

A DataTable keeps every row as renderables and re-measures them; at a thousand hosts that
costs hundreds of milliseconds per refresh. Here rows are plain ``(text, level)`` tuples,
replaced wholesale each refresh, and :meth:`render_line` turns just the lines on screen into
segments. The cursor follows a row *key* (the host name), so it stays on the same host when
rows are re-ordered or updated. Heading rows (group titles) span the line and are skipped by
the cursor. A click on a column title asks the owner to sort by it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = tuple[str, str]
"""Text and a level: ``""`` (plain), ``dim``, or a theme level such as ``success``."""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int | None
    """Fixed width, or None to fit the widest value. A last column of None takes whatever
    width the others leave (at least what fits :data:`FILL_WANTED` of its values)."""
    align: str = "right"
    drop: int = 0
    """Where the line is too narrow for the last column, columns with the highest ``drop``
    are hidden first, until it fits; 0: never hidden."""


FILL_WANTED = 32
"""The last column's share wanted before hiding others: a host's reason such as
"ssh: connect timed out after 5 s"."""


@dataclass(frozen=True)
class Row:
    key: str
    cells: tuple[Cell, ...]
    heading: bool = False
    """A group title: one cell, drawn across the line, never under the cursor."""


class FleetTable(ScrollView, can_focus=True):
    """Rows of hosts with a fixed header, a row cursor, and keyboard/mouse navigation."""

    DEFAULT_CSS = """
    FleetTable {
        background: $surface;
        scrollbar-gutter: stable;
    }
    FleetTable > .fleet-table--header {
        text-style: bold;
        background: $panel;
        color: $foreground;
    }
    FleetTable > .fleet-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    FleetTable > .fleet-table--odd {
        background: $surface-lighten-1 20%;
    }
    FleetTable > .fleet-table--sorted {
        color: $accent;
        text-style: bold underline;
    }
    FleetTable > .fleet-table--heading {
        color: $accent;
        text-style: bold;
        background: $boost;
    }
    """
    COMPONENT_CLASSES = {
        "fleet-table--header",
        "fleet-table--cursor",
        "fleet-table--odd",
        "fleet-table--sorted",
        "fleet-table--heading",
    }
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "choose", "Open host"),
    ]

    cursor: reactive[int] = reactive(0, repaint=True, init=False)
    """Index of the highlighted row."""

    class HeaderClicked(Message):
        """A column title was clicked."""

        def __init__(self, column: str) -> None:
            super().__init__()
            self.column = column

    class RowChosen(Message):
        """Enter (or a click on a row) chose a row."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self.rows: tuple[Row, ...] = ()
        self._natural = [c.width if c.width is not None else len(c.label) for c in self.columns]
        self._widths = list(self._natural)
        """Widths as drawn: the natural ones fitted to the widget (0: hidden)."""
        self._level_styles: dict[str, Style] = {}
        self._cursor_key: str | None = None
        self._late: Callable[[Row], tuple[Cell, ...]] | None = None
        self.sorted_column: str | None = None
        """Key of the column whose title is highlighted as the sort order."""

    # -- data --------------------------------------------------------------------------------

    def set_rows(
        self,
        rows: Sequence[Row],
        level_styles: dict[str, Style],
        late: Callable[[Row], tuple[Cell, ...]] | None = None,
    ) -> None:
        """Replace every row; the cursor stays on the row with the same key if it is still there.

        ``late`` gives a row's cells as drawn, asked only for the rows on screen: values that
        change on every row at every refresh (a data age) are formatted for those alone. It
        may change only fixed-width columns (the others are fitted to ``rows`` as given).
        """
        self.rows = tuple(rows)
        self._level_styles = level_styles
        self._late = late
        for index, column in enumerate(self.columns):
            if column.width is None:
                # A list then map(len): no generator step per row, at 10,000 rows a refresh.
                texts = [row.cells[index][0] for row in self.rows if not row.heading]
                widest = max(map(len, texts), default=0)
                self._natural[index] = max(len(column.label), widest)
        self._fit_widths()
        keys = [row.key for row in self.rows]
        if self._cursor_key in keys:
            self.cursor = keys.index(self._cursor_key)
        else:
            self.cursor = self._selectable(min(self.cursor, max(0, len(self.rows) - 1)), 1)
        self._remember_cursor()
        self.refresh()

    def _fit_widths(self) -> None:
        """Hide droppable columns until the last one has room, then give it the rest."""
        widths = list(self._natural)
        available = self.size.width
        last = len(widths) - 1
        if available > 0 and last > 0 and self.columns[last].width is None:
            wanted = min(widths[last], FILL_WANTED)
            droppable = sorted(
                (i for i, c in enumerate(self.columns) if c.drop),
                key=lambda i: -self.columns[i].drop,
            )
            for index in droppable:
                if sum(w + 1 for w in widths[:last] if w) + wanted <= available:
                    break
                widths[index] = 0
            others = sum(w + 1 for w in widths[:last] if w)
            widths[last] = max(wanted, available - others)
        self._widths = widths
        self.virtual_size = Size(self._line_width(), len(self.rows) + 1)

    def on_resize(self) -> None:
        self._fit_widths()
        self.refresh()

    def cells_of(self, row: Row) -> tuple[Cell, ...]:
        """A row's cells as they are drawn (see ``late`` in :meth:`set_rows`)."""
        if row.heading or self._late is None:
            return row.cells
        return self._late(row)

    def _selectable(self, index: int, direction: int) -> int:
        """The nearest row at or after ``index`` (in ``direction``) that is not a heading."""
        for step in (direction, -direction):
            at = index
            while 0 <= at < len(self.rows):
                if not self.rows[at].heading:
                    return at
                at += step
        return max(0, min(index, len(self.rows) - 1))

    @property
    def cursor_key(self) -> str | None:
        return self._cursor_key

    def _remember_cursor(self) -> None:
        row = self.rows[self.cursor] if self.rows else None
        self._cursor_key = row.key if row is not None and not row.heading else None

    # -- rendering ---------------------------------------------------------------------------

    def _line_width(self) -> int:
        shown = [width for width in self._widths if width]
        return sum(shown) + len(shown) - 1

    def _cells_to_segments(
        self, cells: Sequence[Cell], base: Style, override: Style | None = None
    ) -> list[Segment]:
        segments: list[Segment] = []
        for index, ((text, level), column) in enumerate(zip(cells, self.columns, strict=True)):
            width = self._widths[index]
            if not width:
                continue  # hidden: the line is too narrow for it
            if len(text) > width:
                text = text[: max(0, width - 1)] + "…"
            padded = text.rjust(width) if column.align == "right" else text.ljust(width)
            if segments:
                segments.append(Segment(" ", base))
            if level == "sorted":
                style = base + self.get_component_rich_style("fleet-table--sorted")
            else:
                style = base + self._level_styles[level] if level else base
            if override is not None:
                style += override
            segments.append(Segment(padded, style))
        return segments

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            header_style = self.get_component_rich_style("fleet-table--header")
            labels = [
                (column.label, "sorted" if column.key == self.sorted_column else "")
                for column in self.columns
            ]
            segments = self._cells_to_segments(labels, header_style)
        else:
            index = scroll_y + y - 1
            if index >= len(self.rows):
                return Strip.blank(width, self.rich_style)
            row = self.rows[index]
            if row.heading:
                style = self.get_component_rich_style("fleet-table--heading")
                strip = Strip([Segment(f" {row.cells[0][0]} ", style)])
                return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, style)
            base = self.rich_style
            if index % 2:
                base += self.get_component_rich_style("fleet-table--odd")
            override = None
            if index == self.cursor and self.has_focus:
                override = self.get_component_rich_style("fleet-table--cursor")
                base += override
            segments = self._cells_to_segments(self.cells_of(row), base, override)
        line_style = (
            self.get_component_rich_style("fleet-table--header") if y == 0 else self.rich_style
        )
        return (
            Strip(segments).crop(scroll_x, scroll_x + width).extend_cell_length(width, line_style)
        )

    # -- navigation --------------------------------------------------------------------------

    @property
    def _page(self) -> int:
        return max(1, self.size.height - 2)

    def _move_to(self, index: int) -> None:
        if not self.rows:
            return
        direction = 1 if index >= self.cursor else -1
        self.cursor = self._selectable(max(0, min(len(self.rows) - 1, index)), direction)
        self._remember_cursor()
        visible = max(1, self.size.height - 1)  # less the header line
        if self.cursor < self.scroll_y:
            # Going up to the first host of a group: show its heading too.
            above = self.cursor - 1 if self.cursor and self.rows[self.cursor - 1].heading else None
            self.scroll_to(y=self.cursor if above is None else above, animate=False)
        elif self.cursor >= self.scroll_y + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * self._page)

    def action_jump(self, index: int) -> None:
        self._move_to(index if index >= 0 else len(self.rows) - 1)

    def action_choose(self) -> None:
        if self.rows and not self.rows[self.cursor].heading:
            self.post_message(self.RowChosen(self.rows[self.cursor].key))

    def column_at(self, x: int) -> Column | None:
        """The column under content offset ``x`` (scrolling included)."""
        left = 0
        for column, width in zip(self.columns, self._widths, strict=True):
            if width and left <= x < left + width + 1:
                return column
            left += width + 1 if width else 0
        return None

    def column_left(self, key: str) -> int | None:
        """Content offset where column ``key`` starts; None when it is hidden or unknown."""
        left = 0
        for column, width in zip(self.columns, self._widths, strict=True):
            if column.key == key:
                return left if width else None
            left += width + 1 if width else 0
        return None

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            column = self.column_at(event.x + int(self.scroll_x))
            if column is not None:
                self.post_message(self.HeaderClicked(column.key))
            return
        index = int(self.scroll_y) + event.y - 1
        if 0 <= index < len(self.rows) and not self.rows[index].heading:
            self._move_to(index)
            self.action_choose()  # one click opens the host, as Enter does

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
