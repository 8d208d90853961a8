"""A DataTable for long lists that fills itself a page at a time as the user moves down it."""

from __future__ import annotations

from collections.abc import Sequence

from textual.coordinate import Coordinate
from textual.widgets import DataTable

from .cells import Cell, column_widths

#: (label, key) of each column.
ColumnSpec = Sequence[tuple[str, str | None]]
#: The cells of a row and its key.
RowSpec = tuple[Sequence[Cell], str | None]


class PagedTable(DataTable):
    """A DataTable given its whole list of rows, that only adds the rows near the cursor.

    Adding a row to a DataTable costs about a tenth of a millisecond however little of it is
    drawn, so refilling a table with thousands of rows would keep the screen busy for a good
    part of a second. This one adds the first :attr:`PAGE` rows (more if the cursor is further
    down), then another page whenever the cursor or the scroll position comes near the last
    added row, and all of them when the user jumps to the bottom. Columns have explicit widths
    computed from every row, so they do not change as pages arrive; a refill keeps the columns
    when they are the same.
    """

    PAGE = 100

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self._spec: tuple[tuple[str, str | None], ...] = ()
        self._all: Sequence[RowSpec] = ()
        self._added = 0

    @property
    def total_rows(self) -> int:
        """Rows given to the table, added or not yet."""
        return len(self._all)

    def set_rows(self, columns: ColumnSpec, rows: Sequence[RowSpec], cursor_row: int = 0,
                 widths: Sequence[int] | None = None) -> None:
        """Replace the rows (and the columns, where they differ); the cursor goes to
        ``cursor_row`` or the last row.

        ``rows`` is only sliced as pages are added, so it may build its rows on demand; give
        such a sequence the column ``widths`` too (otherwise they are measured from every row).
        """
        if widths is None:
            widths = column_widths([label for label, _ in columns], (cells for cells, _ in rows))
        if tuple(columns) != self._spec:
            self.clear(columns=True)
            for (label, key), width in zip(columns, widths):
                self.add_column(label, key=key, width=width)
            self._spec = tuple(columns)
        else:
            self.clear()
            for column, width in zip(self.ordered_columns, widths):
                column.width = width
        self._all, self._added = rows, 0
        self.add_until(max(cursor_row, 0) + self.PAGE)
        if self.row_count:
            self.move_cursor(row=min(max(cursor_row, 0), self.row_count - 1))

    def add_until(self, count: int) -> None:
        """Add rows until ``count`` (or all of them) are in the table."""
        start, end = self._added, min(count, len(self._all))
        if end <= start:
            return
        self._added = end  # first: add_row moves the cursor, whose watcher calls back here
        for cells, key in self._all[start:end]:
            self.add_row(*cells, key=key)

    def _near_end(self, row: float) -> None:
        if self._added < len(self._all) and row + self.PAGE // 2 >= self._added:
            self.add_until(int(row) + self.PAGE)

    def watch_cursor_coordinate(self, old_coordinate: Coordinate,
                                new_coordinate: Coordinate) -> None:
        super().watch_cursor_coordinate(old_coordinate, new_coordinate)
        self._near_end(new_coordinate.row)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._near_end(new_value + self.size.height)

    def action_page_down(self) -> None:
        self._near_end(self.cursor_row + 2 * self.size.height)
        super().action_page_down()

    def action_scroll_bottom(self) -> None:
        self.add_until(len(self._all))
        super().action_scroll_bottom()
