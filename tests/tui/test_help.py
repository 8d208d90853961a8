"""`?` lists every key of the current screen, readable at 80x24 (issue 9, point 9)."""

from __future__ import annotations

from pathlib import Path

from reachscope.tui.app import create_app
from reachscope.tui.screens.help import HelpScreen

from .helpers import settle


async def _open_help(pilot) -> HelpScreen:  # noqa: ANN001
    await pilot.press("question_mark")
    await settle(pilot)
    help_screen = pilot.app.screen
    assert isinstance(help_screen, HelpScreen)
    return help_screen


async def test_help_lists_every_binding_of_each_screen_at_80x24(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # Compare, Problems, Problem, Trace, Diff: each screen's own keys, hidden ones too.
        path = [None, "p", "enter", "enter", "d"]
        for key in path:
            if key is not None:
                await pilot.press(key)
                await settle(pilot)
            screen = app.screen
            help_screen = await _open_help(pilot)
            listed = {d for _, d in help_screen.keys}
            for binding in type(screen).BINDINGS:
                assert (binding.tooltip or binding.description) in listed, (screen, binding)
            box = help_screen.query_one("#help")
            assert box.region.right <= 80 and box.region.bottom <= 24
            # Nothing cut at the right edge: every line of the list fits the box.
            width = box.content_region.width
            text = help_screen.query_one("#help-text").render()
            assert all(len(line) <= width for line in str(text).splitlines())
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen
