"""A DataTable for long lists that fills itself a page at a time as the user moves down it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from rich.console import ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._types import SegmentLines
from textual.color import Color
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets._data_table import Column

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

    PAGE = 60

    #: The columns in screen order, kept until the columns change (DataTable rebuilds this list
    #: several times for every line it draws).
    _columns_in_order: list[Column] | None = None
    #: While the table draws (:meth:`render_lines`): its style and background colours, which
    #: DataTable otherwise computes again for every line from every ancestor's styles, and the
    #: settings that each cell reads.
    _pass: tuple[Style, tuple[Color, Color], tuple[Any, ...]] | None = None

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self._spec: tuple[tuple[str, str | None], ...] = ()
        self._all: Sequence[RowSpec] = ()
        self._added = 0
        #: Console options of each inner cell width, for drawing :class:`Cell`\ s.
        self._cell_options: dict[int, ConsoleOptions] = {}
        #: (odd row, base style, focus and hover state) -> the row's zebra style, until the
        #: styles change.
        self._row_styles: dict[tuple[bool, Style, Any], Style] = {}

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
                self.add_column(Text(label), key=key, width=width)  # not markup
            self._spec = tuple(columns)
        else:
            self.clear()
            for column, width in zip(self.ordered_columns, widths):
                column.width = width
        self._all, self._added = rows, 0
        self.add_until(max(cursor_row, 0) + self.PAGE)
        if self.row_count:
            self.move_cursor(row=min(max(cursor_row, 0), self.row_count - 1))

    # -- drawing ------------------------------------------------------------------------------
    # A refill or a new sort order redraws every visible cell. DataTable draws each cell through
    # Rich's Padding and Styled renderables (a few console passes per cell) and recomputes the
    # column order and the zebra style for every line; these overrides give the same segments
    # for one-line Cells directly, and keep what only changes with the columns or the styles.

    def render_lines(self, crop: Region) -> list[Strip]:
        self._pass = (self.rich_style, self.background_colors, self._cell_settings())
        try:
            return super().render_lines(crop)
        finally:
            self._pass = None

    @property
    def rich_style(self) -> Style:
        return super().rich_style if self._pass is None else self._pass[0]

    @property
    def background_colors(self) -> tuple[Color, Color]:
        return super().background_colors if self._pass is None else self._pass[1]

    def _cell_settings(self) -> tuple[Any, ...]:
        if self._pass is not None:
            return self._pass[2]
        return (self.cell_padding, max(self.fixed_rows, 0), self.fixed_columns, self.show_cursor,
                self._show_hover_cursor, self.cursor_foreground_priority == "css",
                self.cursor_background_priority == "css")

    @property
    def ordered_columns(self) -> list[Column]:
        if self._columns_in_order is None:
            self._columns_in_order = super().ordered_columns
        return self._columns_in_order

    def add_column(self, *args: Any, **kwargs: Any) -> Any:
        self._columns_in_order = None
        return super().add_column(*args, **kwargs)

    def remove_column(self, *args: Any, **kwargs: Any) -> None:
        self._columns_in_order = None
        super().remove_column(*args, **kwargs)

    def clear(self, columns: bool = False) -> Any:
        if columns:
            self._columns_in_order = None
        return super().clear(columns)

    def notify_style_update(self) -> None:
        self._row_styles.clear()
        super().notify_style_update()

    def _get_row_style(self, row_index: int, base_style: Style) -> Style:
        if row_index < max(self.fixed_rows, 0) or not self.zebra_stripes:
            return super()._get_row_style(row_index, base_style)
        key = (bool(row_index % 2), base_style, self._pseudo_class_state)
        style = self._row_styles.get(key)
        if style is None:
            style = self._row_styles[key] = super()._get_row_style(row_index, base_style)
        return style

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> SegmentLines:
        pad, fixed_rows, fixed_columns, show_cursor, show_hover, fg_css, bg_css = \
            self._cell_settings()
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        # Header, labels, fixed cells and anything but a one-line Cell: as DataTable draws them.
        if row_key is None or column_key is None or row_index < fixed_rows \
                or column_index < fixed_columns or width <= 2 * pad \
                or type(cell := self._data.get(row_key, {}).get(column_key)) is not Cell \
                or self.rows[row_key].height != 1:
            return super()._render_cell(row_index, column_index, base_style, width, cursor,
                                        hover)
        # DataTable's own cache key, so that everything that invalidates its cells does ours.
        cache_key = (row_key, column_key, base_style, cursor, hover, show_hover,
                     self._update_count, self._pseudo_class_state)
        cached = self._cell_render_cache.get(cache_key)
        if cached is not None:
            return cached
        component_style, post_style = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, show_cursor, show_hover, fg_css, bg_css)
        # What Styled(Padding(cell), pre_style, post_style) renders: the padding takes the
        # pre and post styles, the text the cell's style between them.
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) \
            + component_style
        inner = width - 2 * pad
        options = self._cell_options.get(inner)
        if options is None:
            options = self._cell_options[inner] = self.app.console_options.update(
                width=inner, height=1, no_wrap=True)
        text = cast(Segment, next(iter(cell.__rich_console__(self.app.console, options))))
        line: list[Segment] = []
        for segment in (Segment(" " * pad), text, Segment(" " * pad)):
            if not segment.text:
                continue
            style = pre + segment.style if segment.style and pre else segment.style or pre
            if post_style:
                style = style + post_style if style else post_style
            line.append(Segment(segment.text, style))
        lines = [line]
        self._cell_render_cache[cache_key] = lines
        return lines

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
