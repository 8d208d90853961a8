"""Whole words at 80x24 (issue 9, point 7): no `finishe`/`interru`, no `ins` for `instruct`, and
`-` where a number is missing, never `nan`."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

from reachscope.core import browse
from reachscope.core.demo import demo_db_path
from reachscope.store import open_db
from reachscope.store.runs import get_run, update_run
from reachscope.tui.app import create_app
from reachscope.tui.screens.compare import CompareScreen
from reachscope.tui.screens.live import LiveScreen
from reachscope.tui.screens.problem import ProblemScreen
from rich.console import Console

from .helpers import settle


def _screen_text(app) -> str:  # noqa: ANN001
    """What the terminal shows, as plain text (the compositor's frame, as a screenshot is)."""
    console = Console(width=80, height=24, file=io.StringIO(), record=True, force_terminal=True,
                      color_system="truecolor", legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def _demo_with_statuses(tmp_path: Path, rename: bool = True) -> Path:
    """A copy of the demo with one run `interrupted` (the longest status) and one `instruct`."""
    path = tmp_path / "demo.db"
    shutil.copyfile(demo_db_path(), path)
    db = open_db(path)
    with db.atomic():
        update_run(db, get_run(db, "base").id, status="interrupted")
    if rename:
        db.conn.execute("UPDATE runs SET label = 'instruct' WHERE label = 'rl'")
        db.conn.commit()
    db.close()
    return path


def test_missing_numbers_are_a_dash() -> None:
    assert browse.format_number(float("nan")) == "-"
    assert browse.format_number(None, "+.2f") == "-"
    assert browse.format_number(float("inf")) == "-"
    assert browse.format_number(0.25, "+.2f") == "+0.25"


async def test_compare_and_live_show_whole_words_at_80x24(tmp_path: Path) -> None:
    app = create_app(_demo_with_statuses(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        text = _screen_text(app)
        assert "interrupted" in text and "finished" in text, text
        assert re.search(r"\binstruct\b", text), text
        assert "nan" not in text
        await pilot.press("L")
        await settle(pilot)
        assert isinstance(app.screen, LiveScreen)
        text = _screen_text(app)
        for word in ("interrupted", "finished", "imported", "instruct", "qwen-instruct"):
            assert re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text), (word, text)
        assert "nan" not in text


async def test_problem_page_keeps_every_sample_column_at_80x24(tmp_path: Path) -> None:
    """The demo's own labels: the samples table keeps `finish` (it was cut to `fi`)."""
    app = create_app(_demo_with_statuses(tmp_path, rename=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProblemScreen)
        text = _screen_text(app)
        for word in ("verdict", "tokens", "finish", "stop", "correct", "incorrect"):
            assert re.search(rf"(?<![\w-]){word}(?![\w-])", text), (word, text)
