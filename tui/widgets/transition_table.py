"""The base -> RL accuracy-bin transition matrix: a cell per (base bin, RL bin), each selectable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on
from textual.containers import ScrollableContainer
from textual.geometry import Region
from textual.message import Message
from textual.widgets import DataTable

from .cells import fill_table

if TYPE_CHECKING:
    from reachscope.core.evidence import AccuracyTransitions

#: Column heads of the 12 bins (metrics.HISTOGRAM_LABELS: 0, (0,.1], ..., (.9,1), 1).
SHORT = ["0", ".1", ".2", ".3", ".4", ".5", ".6", ".7", ".8", ".9", "<1", "1"]


class TransitionTable(DataTable):
    """Rows: the base's accuracy bin; columns: the other run's. A cell shows how many problems
    moved there (``·`` for none); moving onto a cell posts :class:`Highlighted` with its
    problems, Enter posts :class:`Picked`."""

    @dataclass
    class Highlighted(Message):
        """The cursor is on a cell: its bins and its problems (by problem id)."""

        row: int
        column: int
        problem_ids: list[int]

    @dataclass
    class Picked(Message):
        """Enter on a cell."""

        row: int
        column: int
        problem_ids: list[int]

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(cursor_type="cell", zebra_stripes=False, **kwargs)
        self.labels: list[str] = []
        self._cells: list[list[list[int]]] = []

    def show(self, transitions: AccuracyTransitions, keep: bool = False) -> None:
        """Fill the matrix (cells by problem id); the cursor starts on the first off-diagonal
        cell with problems, or with ``keep`` stays where it was."""
        where = self.cursor_coordinate
        self.labels = transitions.labels
        self._cells = transitions.cells
        rows = [[SHORT[i]] + [str(len(cell)) if cell else "·" for cell in row]
                for i, row in enumerate(transitions.cells)]
        fill_table(self, ["↓ →"] + SHORT, rows)
        if keep:
            self.move_cursor(row=where.row, column=where.column)
            return
        start = next(((i, j) for i, row in enumerate(self._cells)
                      for j, cell in enumerate(row) if cell and i != j), None)
        if start is None:
            start = next(((i, j) for i, row in enumerate(self._cells)
                          for j, cell in enumerate(row) if cell), (0, 0))
        self.move_cursor(row=start[0], column=start[1] + 1)

    # The table is as tall as its rows, so DataTable's own scrolling to the cursor never moves
    # anything: the pane that holds the table follows the cursor instead, on the keys that move
    # it up or down (a click lands on a cell already in view).
    def action_cursor_up(self) -> None:
        super().action_cursor_up()
        self.call_after_refresh(self._show_cursor_row)

    def action_cursor_down(self) -> None:
        super().action_cursor_down()
        self.call_after_refresh(self._show_cursor_row)

    def action_page_up(self) -> None:
        super().action_page_up()
        self.call_after_refresh(self._show_cursor_row)

    def action_page_down(self) -> None:
        super().action_page_down()
        self.call_after_refresh(self._show_cursor_row)

    def action_scroll_top(self) -> None:
        super().action_scroll_top()
        self.call_after_refresh(self._show_cursor_row)

    def action_scroll_bottom(self) -> None:
        super().action_scroll_bottom()
        self.call_after_refresh(self._show_cursor_row)

    def _show_cursor_row(self) -> None:
        """Scroll the nearest scrolling pane around the table so that the cursor's row (and
        the header, on the first row) is in view."""
        pane = next((w for w in self.ancestors if isinstance(w, ScrollableContainer)), None)
        if pane is None or not self.region or not pane.scrollable_content_region:
            return
        view = pane.scrollable_content_region
        row = self.cursor_row
        top = self.region.y + (0 if row == 0 else self.header_height + row) - round(self.scroll_y)
        height = self.header_height + 1 if row == 0 else 1
        pane.scroll_to_region(Region(0, top - view.y + round(pane.scroll_y), 1, height),
                              animate=False, immediate=True)

    def cell_problems(self, row: int, column: int) -> list[int]:
        """The problem ids of the cell at table ``row``, table ``column`` (column 0: labels)."""
        if 0 <= row < len(self._cells) and 1 <= column <= len(self._cells[row]):
            return list(self._cells[row][column - 1])
        return []

    @on(DataTable.CellHighlighted)
    def _highlighted(self, event: DataTable.CellHighlighted) -> None:
        event.stop()
        r, c = event.coordinate.row, event.coordinate.column
        self.post_message(self.Highlighted(r, c - 1, self.cell_problems(r, c)))

    @on(DataTable.CellSelected)
    def _picked(self, event: DataTable.CellSelected) -> None:
        event.stop()
        r, c = event.coordinate.row, event.coordinate.column
        if c >= 1:
            self.post_message(self.Picked(r, c - 1, self.cell_problems(r, c)))
