"""The breakdown table: pass@k of each run and coverage per value of a metadata field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from reachscope.core.breakdown import Breakdown

#: Widest a group's value may be before it ends in an ellipsis (``Intermediate Algebra``).
VALUE_WIDTH = 20


def _widths(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column's natural width; the value column's at most :data:`VALUE_WIDTH`."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    widths[0] = min(widths[0], max(VALUE_WIDTH, len(header[0])))
    return widths


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], max_width: int) -> Table:
    """Columns one space apart, no edges; the first (the group's value) ends in an ellipsis
    where it would not leave the numbers room."""
    table = Table(box=None, padding=(0, 1, 0, 0), pad_edge=False, show_edge=False,
                  header_style="bold", expand=False)
    widths = _widths(header, rows)
    fixed = sum(widths[1:]) + len(widths) - 1
    table.add_column(Text(header[0]), no_wrap=True, overflow="ellipsis",
                     max_width=max(len(header[0]), min(VALUE_WIDTH, max_width - fixed)))
    for h, w in zip(header[1:], widths[1:]):
        table.add_column(h, justify="right", no_wrap=True, min_width=w)
    for row in rows:
        table.add_row(*map(Text, row))  # a group's value is the dataset's text, not markup
    return table


class _Rendered:
    """The title and the table, laid out for the width they are drawn at: one table of ten
    columns where it fits (78 cells at most, 80 columns), else pass@k above coverage (the side
    pane of a wide terminal)."""

    def __init__(self, title: Text, header: list[str], rows: list[list[str]], split: int) -> None:
        self.title, self.header, self.rows, self.split = title, header, rows, split

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = _widths(self.header, self.rows)
        parts: list[RenderableType] = [self.title,
                                       _table(self.header, self.rows, options.max_width)]
        too_wide = sum(widths) + len(widths) - 1 > options.max_width
        if too_wide and self.split < len(self.header):
            s = self.split
            parts = [self.title,
                     _table(self.header[:s], [r[:s] for r in self.rows], options.max_width),
                     Text(""),
                     _table([self.header[0], *self.header[s:]],
                            [[r[0], *r[s:]] for r in self.rows], options.max_width)]
        yield Group(*parts)


class BreakdownTable(Static):
    """Not focusable: nothing in it can be picked (``m`` on Compare changes the field)."""

    _reveal = False

    def show(self, result: Breakdown, labels: list[str], reveal: bool = False) -> None:
        """Draw ``result``; runs are named A, B, ... in the table and by label in the title.
        With ``reveal`` the scrolling pane it is in brings it to the top once it is laid out."""
        self._reveal = reveal
        if reveal:
            self.call_after_refresh(self._scroll_to_top)
        letters = [chr(ord("A") + i) for i in range(len(labels))]
        names = ", ".join(f"{letter} = {label}" for letter, label in zip(letters, labels))
        title = Text.assemble(("by " + result.field, "bold"), f"  ({names}; m: next field)")
        if not result.groups:
            self.update(Group(title, Text("no graded problems", style="dim")))
            return
        from reachscope.core.breakdown import table_rows  # loaded with the comparison

        header, rows = table_rows(result, letters)
        self.update(_Rendered(title, header, rows, split=2 + len(result.ks) * len(letters)))

    def on_resize(self) -> None:
        # A new table, or one shown for the first time, has its height only now: scrolling
        # to it before would stop short of its last rows.
        if self._reveal:
            self._scroll_to_top()
            self._reveal = False

    def _scroll_to_top(self) -> None:
        if self._reveal:
            self.scroll_visible(top=True, animate=False, immediate=True)
