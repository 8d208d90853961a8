"""The base -> RL accuracy-bin transition matrix: a cell per (base bin, RL bin), each selectable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on
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
