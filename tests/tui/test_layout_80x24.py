"""80x24 layouts (issue 9, points 6 and 7): every footer key visible, no empty metadata
columns, metadata a dataset has is filterable, focus comes back to where Enter works."""

from __future__ import annotations

import shutil
from pathlib import Path

from reachscope.core import browse
from reachscope.core.demo import demo_db_path
from reachscope.tui.app import create_app
from reachscope.tui.screens.problem import ProblemScreen
from reachscope.tui.screens.problems import ProblemsScreen
from reachscope.tui.screens.trace import TraceScreen
from textual.widgets import DataTable, Select
from textual.widgets._footer import FooterKey

from .helpers import settle


def _footer_keys_fit(app) -> list[str]:  # noqa: ANN001
    keys = list(app.screen.query(FooterKey))
    assert keys
    return [k.description for k in keys if k.region.right > 80 or k.region.width == 0]


async def test_trace_and_diff_show_every_footer_key_at_80_columns(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        problem = app.screen
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        assert _footer_keys_fit(app) == []
        shown = {k.description for k in app.screen.query(FooterKey)}
        assert {"Next", "Find", "Match", "Raw", "Label", "Diff", "Help"} <= shown
        await pilot.press("d")
        await settle(pilot)
        assert _footer_keys_fit(app) == []
        assert {"L next", "R next", "Auto", "Swap"} <= {
            k.description for k in app.screen.query(FooterKey)}
        # Back to the problem: the sample list has focus and Enter opens a trace again.
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is problem
        assert app.focused is problem.query_one("#samples", DataTable)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)


async def test_enter_after_a_search_opens_the_highlighted_filtered_row(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        problems = app.screen
        assert isinstance(problems, ProblemsScreen)
        table = problems.query_one(DataTable)
        await pilot.press("down", "down", "down", "down")  # the cursor away from the first row
        target = problems.lines[-1]
        await pilot.press("slash", *str(target.idx), "enter")
        await settle(pilot)
        assert target in problems.shown and len(problems.shown) < len(problems.lines)
        assert app.focused is table
        await pilot.press("down")
        highlighted = problems.shown[table.cursor_row]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProblemScreen)
        assert app.screen.problem_id == highlighted.id


async def test_lab_problems_show_difficulty_not_empty_level_columns(tmp_path: Path) -> None:
    copy = tmp_path / "demo.db"
    shutil.copyfile(demo_db_path(), copy)
    app = create_app(copy, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ProblemsScreen)
        table = screen.query_one("#problems", DataTable)
        labels = [str(c.label) for c in table.ordered_columns]
        assert "level" not in labels and "subject" not in labels and "difficulty" in labels
        # The problem text is on screen, not pushed off the right edge.
        assert table.ordered_columns[-1].label.plain == "problem"
        assert sum(c.get_render_width(table) for c in table.ordered_columns[:-1]) < 70
        meta = screen.query_one("#meta", Select)
        values = [v for _, v in meta._options if isinstance(v, str)]
        difficulty = [v for v in values if v.startswith("difficulty\x00")]
        assert difficulty
        meta.value = difficulty[0]
        await settle(pilot)
        wanted = difficulty[0].split("\x00")[1]
        assert screen.shown and all(line.meta_str("difficulty") == wanted
                                    for line in screen.shown)
        assert len(screen.shown) < len(screen.lines)
        # The problem page names the difficulty too (it named only level and subject).
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProblemScreen)
        head = str(app.screen.query_one("#problem-head").render())
        assert f"difficulty {wanted}" in head


def test_metadata_summary_names_keys_other_than_level_and_subject() -> None:
    assert browse.metadata_summary({"level": "Level 3", "subject": "Algebra"}) == \
        "Level 3 · Algebra"
    assert browse.metadata_summary({"difficulty": 2, "level": None, "id": "x"}) == \
        "difficulty 2"
    assert browse.metadata_summary({}) == ""
