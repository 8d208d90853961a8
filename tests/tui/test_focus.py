"""Focus is visible and Tab has no dead stops (issue 9, point 6): on Compare, Tab visits only
widgets a user acts on, and each one looks different focused, in 256 colours and in the 16 of
TERM=screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from reachscope.tui.app import create_app
from reachscope.tui.screens.compare import CompareScreen
from rich.color import ColorSystem

from .helpers import settle, styled_cells

#: Run pickers, the scrolling side pane (at 80x24 the tables below the plot only show by
#: scrolling it) and the coverage table (Enter opens a cell's problems). The summary, breakdown
#: and bootstrap tables are read, not acted on.
STOPS = ["run-a", "run-b", "compare-side", "coverage"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_tab_on_compare_stops_only_where_a_key_acts_and_shows_it(
        db_path: Path, size: tuple[int, int]) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("m")  # the breakdown table shown too: it must not take focus
        await settle(pilot)
        assert app.screen.query_one("#breakdown").display
        app.screen.query_one("#run-a").focus()
        await pilot.pause()
        visited = []
        for _ in range(len(STOPS) + 1):
            widget = app.focused
            assert widget is not None
            visited.append(widget.id)
            region = widget.region
            focused = {s: styled_cells(app, region, s)
                       for s in (ColorSystem.EIGHT_BIT, ColorSystem.STANDARD)}
            app.screen.set_focus(None)
            await pilot.pause()
            for system, cells in focused.items():
                assert styled_cells(app, region, system) != cells, (widget.id, system)
            widget.focus()
            await pilot.pause()
            await pilot.press("tab")
            await pilot.pause()
        assert visited == [*STOPS, STOPS[0]]
