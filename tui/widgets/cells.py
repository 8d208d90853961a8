"""Table cells for DataTables that hold many rows: drawn on demand, never measured.

A DataTable measures every cell of each new row to size its auto-width columns, and that costs
far more than drawing the few rows on screen (a Rich measurement per cell: about 150 ms for
the 4,500 cells of a 500-row problem table). Tables that are refilled often give their columns
explicit widths (:func:`column_widths`, from the plain strings) and hold :class:`Cell`\\ s, which
have no ``__rich_measure__`` and render straight to one segment when their row is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.segment import Segment
from rich.text import Text
from textual.widgets import DataTable


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
            # Cut with an ellipsis, so that a cut word does not pass for a whole one.
            text = set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
            size = width
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


def fit_widths(widths: Sequence[int], available: int, shrinkable: Sequence[tuple[int, int]],
               padding: int = 2) -> list[int]:
    """Column widths that fit ``available`` cells where they can.

    Args:
        widths: each column's content width.
        available: the cells the table has (columns take their width plus ``padding``).
        shrinkable: ``(column, least width)`` of the columns that may give up width (their
            cells then end in an ellipsis), in the order they do; other columns keep theirs.
        padding: cells each column adds to its content.

    Returns:
        The widths; still wider than ``available`` when the shrinkable columns are at their
        least.
    """
    out = list(widths)
    excess = sum(out) + padding * len(out) - available
    for column, least in shrinkable:
        if excess <= 0:
            break
        give = min(excess, max(out[column] - least, 0))
        out[column] -= give
        excess -= give
    return out


def fit_columns(labels: Sequence[str], values: Sequence[int], available: int | None,
                shrinkable: Sequence[tuple[int, int]], short: Mapping[str, str] | None = None,
                padding: int = 2) -> tuple[list[str], list[int]]:
    """Headers and widths of a table's columns for a pane ``available`` cells wide.

    Every column is whole where the pane has room (or ``available`` is None: not laid out
    yet). Otherwise headers wider than their column's values take their ``short`` form, then
    the ``shrinkable`` columns give up width as in :func:`fit_widths`.

    Args:
        labels: the headers.
        values: the widest value of each column.
    """
    widths = [max(v, cell_len(label)) for v, label in zip(values, labels)]
    if available is None or sum(widths) + padding * len(widths) <= available:
        return list(labels), widths
    short = short or {}
    labels = [short.get(label, label) if v < cell_len(label) else label
              for v, label in zip(values, labels)]
    widths = [max(v, cell_len(label)) for v, label in zip(values, labels)]
    return labels, fit_widths(widths, available, shrinkable, padding)


def literal(text: str) -> str:
    """``text`` as a DataTable str cell or header that shows it as it is.

    DataTable reads str cells and headers as Rich markup: a run label ``rl[/]`` would fail to
    draw (MarkupError) and ``[b]base`` would lose its bracket. Labels, reviewer names, answers
    and notes are the user's or the model's text, never markup.
    """
    return escape(text)


def fill_table(table: DataTable, labels: Sequence[str], rows: Sequence[Sequence[str | Text]],
               keys: Sequence[str] | None = None) -> None:
    """Replace a small DataTable's columns and rows, each column as wide as its widest cell and
    the table as high as its rows.

    A DataTable measures new rows on its next Idle, and two things go wrong when a frame is
    drawn in between (likely on a busy machine): it caches each cell's rendering without the
    width it was drawn at, so cells stay cut to their header's width (``bas`` for ``base``)
    once the column has widened; and a table of ``height: auto`` can keep the height it had
    before its rows were measured (none at all). Explicit widths and height leave no such
    in-between.

    Args:
        table: the table; its columns are replaced.
        labels: the headers.
        rows: the cells; strings are shown as they are (not read as markup).
        keys: a row key per row (default: none).
    """

    def width(cell: str | Text) -> int:
        return cell.cell_len if isinstance(cell, Text) else cell_len(cell)

    widths = [max([cell_len(label), *(width(row[i]) for row in rows)])
              for i, label in enumerate(labels)]
    table.clear(columns=True)
    for label, w in zip(labels, widths):
        table.add_column(Text(label), width=w)
    for i, row in enumerate(rows):
        table.add_row(*(literal(c) if isinstance(c, str) else c for c in row),
                      key=keys[i] if keys is not None else None)
    table.styles.height = len(rows) + (table.header_height if table.show_header else 0)
