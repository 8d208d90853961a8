"""Table cells for DataTables that hold many rows: drawn on demand, never measured.

A DataTable measures every cell of each new row to size its auto-width columns, and that costs
far more than drawing the few rows on screen (a Rich measurement per cell: about 150 ms for
the 4,500 cells of a 500-row problem table). Tables that are refilled often give their columns
explicit widths (:func:`column_widths`, from the plain strings) and hold :class:`Cell`\\ s, which
have no ``__rich_measure__`` and render straight to one segment when their row is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment


class Cell:
    """A single-line table cell: its text, a Rich style and a justification."""

    __slots__ = ("text", "style", "justify")

    def __init__(self, text: str, style: str = "", justify: str = "left") -> None:
        self.text = text
        self.style = style
        self.justify = justify

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # One segment, padded or cropped to the width: what a one-line, unwrapped rich Text
        # renders to, without its wrapping and justification machinery.
        width = options.max_width
        text, size = self.text, cell_len(self.text)
        if size > width:
            text, size = set_cell_size(text, width), width
        if size < width:
            pad = " " * (width - size)
            text = pad + text if self.justify == "right" else text + pad
        yield Segment(text, console.get_style(self.style) if self.style else None)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Cell({self.text!r})"


def right(text: str, style: str = "") -> Cell:
    """A right-aligned cell (numbers)."""
    return Cell(text, style, "right")


def column_widths(labels: Sequence[str], rows: Iterable[Sequence[Cell]]) -> list[int]:
    """Content width of each column: its widest cell or its label, as auto-width would give."""
    widths = [cell_len(label) for label in labels]
    for cells in rows:
        for i, cell in enumerate(cells):
            n = cell_len(cell.text)
            if n > widths[i]:
                widths[i] = n
    return widths
