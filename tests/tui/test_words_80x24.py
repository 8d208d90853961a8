"""Whole words at 80x24 (issue 9, point 7): no `finishe`/`interru`, no `ins` for `instruct`, and
`-` where a number is missing, never `nan`."""

from __future__ import annotations

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

from .helpers import press_keys, screen_text, settle_screen


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
        await settle_screen(pilot)
        assert isinstance(app.screen, CompareScreen)
        text = screen_text(app)
        assert "interrupted" in text and "finished" in text, text
        assert re.search(r"\binstruct\b", text), text
        assert "nan" not in text
        await pilot.press("L")
        await settle_screen(pilot)
        assert isinstance(app.screen, LiveScreen)
        text = screen_text(app)
        for word in ("interrupted", "finished", "imported", "instruct", "qwen-instruct"):
            assert re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text), (word, text)
        assert "nan" not in text


async def test_problem_page_keeps_every_sample_column_at_80x24(tmp_path: Path) -> None:
    """The demo's own labels: the samples table keeps `finish` (it was cut to `fi`) and a PPL
    column per scorer (the demo has two); `chars` and `tokens` give way to them at 80 columns."""
    app = create_app(_demo_with_statuses(tmp_path, rename=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "p", "enter")
        assert isinstance(app.screen, ProblemScreen)
        text = screen_text(app)
        for word in ("verdict", "finish", "ppl base", "ppl rl", "stop", "correct", "incorrect"):
            assert re.search(rf"(?<![\w-]){word}(?![\w-])", text), (word, text)


async def test_problem_page_keeps_a_long_run_label_and_the_finish_reason_whole(
        db_path: Path) -> None:
    """A run label of 13 characters (`instruct-long`): the samples table still shows the label
    and `finish` with whole values (they ran off the edge, or were cut to `ins`/`finishe`); the
    24-column answers pane ends the label in an ellipsis and keeps its counts and marks."""
    db = open_db(db_path)
    db.conn.execute("UPDATE runs SET label = 'instruct-long' WHERE label = 'rl'")
    db.conn.commit()
    db.close()
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "p", "enter", "end")  # end: the rl samples, below base's
        assert isinstance(app.screen, ProblemScreen)
        lines = screen_text(app).splitlines()
        header = next(line for line in lines if re.search(r"│ run\s+#\s+verdict", line))
        assert re.search(r"\bfinish\s*$", header), header
        rows = [line.split("│", 1)[1] for line in lines if "│ instruct-long " in line]
        assert len(rows) >= 5, lines
        for row in rows:
            # label, index, verdict, answer, chars, tokens, finish: all seven, whole (the
            # scrollbar's thumb, drawn over the right edge of some rows, is not a cell).
            cells = [c for c in row.split() if c.strip("▁▂▃▄▅▆▇█")]
            assert cells[0] == "instruct-long" and len(cells) == 7, row
            assert cells[-1] in {"stop", "length"}, row
        answers = [line.split("│", 1)[0] for line in lines
                   if line.startswith(" instruc") and "│" in line]  # not the header's run line
        assert answers and all(re.match(r" instruc…\s+\S+\s+\d+\s+[✓✗±]", a) for a in answers), \
            answers


async def test_wide_compare_fits_long_labels_in_the_coverage_table(tmp_path: Path) -> None:
    """At 120 and 160 columns Compare's side pane is narrow: 13-character labels made the
    coverage table scroll sideways and hid `neither`; their headers now end in "…"."""
    from reachscope.tui.widgets.coverage_table import CoverageTable

    path = tmp_path / "demo.db"
    shutil.copyfile(demo_db_path(), path)
    db = open_db(path)
    with db.atomic():
        db.conn.execute("UPDATE runs SET label = 'qwen-base-7b1' WHERE label = 'base'")
        db.conn.execute("UPDATE runs SET label = 'qwen-instruct' WHERE label = 'rl'")
    db.close()
    for size in ((120, 40), (160, 45), (80, 24)):
        app = create_app(path, poll_interval=0)
        async with app.run_test(size=size) as pilot:
            await settle_screen(pilot)
            assert isinstance(app.screen, CompareScreen)
            table = app.screen.query_one(CoverageTable)
            assert table.row_count == 2
            pane = table.parent
            assert table.virtual_size.width <= pane.content_size.width, size
            assert table.max_scroll_x == 0, size
            labels = [c.label.plain for c in table.ordered_columns]
            assert labels[-1] == "neither"
            if size == (80, 24):  # the pane is the screen's width: headers whole
                assert labels[2:4] == ["only qwen-base-7b1", "only qwen-instruct"]
            else:
                assert labels[2].startswith("only qwen-") and labels[2].endswith("…")
            assert "neither" in screen_text(app)


def test_fit_headers_cuts_the_wider_label_first() -> None:
    from reachscope.tui.widgets.coverage_table import fit_headers

    heads = ["budget", "both", "only aaaaaaaaaaaa", "only bb", "neither"]
    rows = [["all samples", "293", "5", "1", "1"]]
    assert fit_headers(heads, rows, None) == heads
    assert fit_headers(heads, rows, 200) == heads
    out = fit_headers(heads, rows, 52)
    assert out[2].endswith("…") and out[3] == "only bb"
    widths = [max(len(h), len(r)) for h, r in zip(out, rows[0])]
    assert sum(widths) + 2 * len(widths) <= 52
