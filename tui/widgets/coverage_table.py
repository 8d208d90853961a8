"""The coverage table: problems solved by both runs, only one, or neither; a cell opens them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual import on
from textual.message import Message
from textual.widgets import DataTable

from .cells import fill_table

if TYPE_CHECKING:
    from reachscope.core.metrics import Coverage

CELLS = ("both", "only_a", "only_b", "neither")


def fit_headers(headers: list[str], rows: list[list[str]], available: int | None,
                shrink: tuple[int, ...] = (2, 3), least: int = 8, padding: int = 2) -> list[str]:
    """The headers, with the ``shrink`` ones (the "only <label>" columns) cut to end in "…",
    the wider first, until the table fits ``available`` cells (or they reach ``least``)."""
    if not available:
        return headers
    widths = [max([cell_len(h), *(cell_len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    heads = list(headers)
    while sum(widths) + padding * len(widths) > available:
        i = max(shrink, key=lambda j: widths[j])
        value = max((cell_len(r[i]) for r in rows), default=0)
        if widths[i] <= max(least, value):
            break
        widths[i] -= 1
        heads[i] = headers[i][:widths[i] - 1] + "…"
    return heads


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
        self._last: tuple[str, str, Coverage | None, Coverage | None] | None = None

    def show(self, label_a: str, label_b: str, full: Coverage | None,
             at_k: Coverage | None) -> None:
        self._last = (label_a, label_b, full, at_k)
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
        # Long run labels would push "neither" past a narrow pane (the side pane of a wide
        # Compare): their headers end in "…" instead; the run pickers show them whole.
        headers = fit_headers(["budget", "both", f"only {label_a}", f"only {label_b}",
                               "neither"], rows, self._available())
        fill_table(self, headers, rows, keys)
        if self.row_count:
            # Keep the cursor where it was across refreshes; start on "only A".
            self.move_cursor(row=min(keep.row, self.row_count - 1),
                             column=keep.column if keep.column > 0 else 2)

    def _available(self) -> int | None:
        """The cells the pane around the table has (None before its layout)."""
        parent = self.parent
        width = getattr(parent, "content_size", None)
        if width is None or not width.width:
            return None
        return int(width.width - parent.styles.scrollbar_size_vertical)  # type: ignore[union-attr]

    def refit(self) -> None:
        """Show the last figures again, fitted to the pane's current width."""
        if self._last is not None:
            self.show(*self._last)

    @on(DataTable.CellSelected)
    def _picked(self, event: DataTable.CellSelected) -> None:
        cell = self._cells.get((event.coordinate.row, event.coordinate.column))
        if cell is not None:
            event.stop()
            self.post_message(self.Picked(*cell))
