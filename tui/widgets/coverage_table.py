"""The coverage table: problems solved by both runs, only one, or neither; a cell opens them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on
from textual.message import Message
from textual.widgets import DataTable

from .cells import fill_table

if TYPE_CHECKING:
    from reachscope.core.metrics import Coverage

CELLS = ("both", "only_a", "only_b", "neither")


class CoverageTable(DataTable):
    """Rows: the full budget and a chosen k. Columns: both / only A / only B / neither."""

    @dataclass
    class Picked(Message):
        """A coverage cell was chosen."""

        category: str
        k: int | None
        problem_ids: list[int]

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(cursor_type="cell", zebra_stripes=False, **kwargs)
        self._cells: dict[tuple[int, int], tuple[str, int | None, list[int]]] = {}

    def show(self, label_a: str, label_b: str, full: Coverage | None,
             at_k: Coverage | None) -> None:
        keep = self.cursor_coordinate
        self._cells.clear()
        rows, keys = [], []
        for r, cov in enumerate(c for c in (full, at_k) if c is not None):
            name = "all samples" if cov.k is None else f"k = {cov.k}"
            lists = (cov.both, cov.only_a, cov.only_b, cov.neither)
            rows.append([name, *(str(len(x)) for x in lists)])
            keys.append(name)
            for col, (cat, ids) in enumerate(zip(CELLS, lists), start=1):
                self._cells[(r, col)] = (cat, cov.k, list(ids))
        fill_table(self, ["budget", "both", f"only {label_a}", f"only {label_b}", "neither"],
                   rows, keys)
        if self.row_count:
            # Keep the cursor where it was across refreshes; start on "only A".
            self.move_cursor(row=min(keep.row, self.row_count - 1),
                             column=keep.column if keep.column > 0 else 2)

    @on(DataTable.CellSelected)
    def _picked(self, event: DataTable.CellSelected) -> None:
        cell = self._cells.get((event.coordinate.row, event.coordinate.column))
        if cell is not None:
            event.stop()
            self.post_message(self.Picked(*cell))
