"""Text that is the user's or the model's is shown as it is, never read as markup.

Textual and Rich read a str given to Static, Select, notify or a DataTable cell or header as
markup: a run labelled ``rl[/]`` made the app fail to start (MarkupError in the run picker),
``[b]base`` lost its bracket, the likelihood header ``log PPL median [q1, q3]`` lost its
``[q1, q3]``, and a trace search for ``[/]`` raised in its notification.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from reachscope.store import open_db
from reachscope.store.annotations import set_label
from reachscope.store.runs import list_runs
from reachscope.tui.app import create_app
from reachscope.tui.screens.annotations import AnnotationsScreen
from reachscope.tui.screens.compare import CompareScreen
from reachscope.tui.screens.evidence import EvidenceScreen
from reachscope.tui.screens.likelihood import LikelihoodScreen
from reachscope.tui.screens.problems import ProblemsScreen
from reachscope.tui.screens.trace import TraceScreen

from .helpers import demo_copy, press_keys, screen_text

BASE, RL = "[b]base", "rl[/]"
REVIEWER, NOTE = "[i]ada", "see [/] and [red]here"


def markup_like_demo(tmp_path: Path) -> Path:
    """The demo database with its lab runs relabelled and one label whose reviewer and note
    look like markup."""
    path = demo_copy(tmp_path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE runs SET label = ? WHERE label = 'base'", [BASE])
        conn.execute("UPDATE runs SET label = ? WHERE label = 'rl'", [RL])
    conn.close()
    db = open_db(path)
    base = next(r for r in list_runs(db) if r.label == BASE)
    (sample_id,) = db.execute("SELECT id FROM samples WHERE run_id = ? ORDER BY id LIMIT 1",
                              [base.id]).fetchone()
    set_label(db, sample_id, "lucky guess", NOTE, REVIEWER)
    db.close()
    return path


async def test_markup_like_labels_names_and_queries_show_as_they_are(tmp_path: Path) -> None:
    app = create_app(markup_like_demo(tmp_path), poll_interval=0)
    # Notifications on (run_test turns them off): a toast draws its text, as a user sees it.
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await press_keys(pilot)
        assert isinstance(app.screen, CompareScreen)
        assert (app.run_a.label, app.run_b.label) == (BASE, RL)
        text = screen_text(app)
        assert BASE in text and RL in text  # the run pickers and the summary table

        await press_keys(pilot, "p")
        assert isinstance(app.screen, ProblemsScreen)
        text = screen_text(app)
        assert f"{BASE} c/n" in text and f"{RL} c/n" in text  # the column headers

        await press_keys(pilot, "escape", "e")
        assert isinstance(app.screen, EvidenceScreen)
        assert f"{RL} vs {BASE} on 300 problems" in screen_text(app)

        await press_keys(pilot, "escape", "l")
        assert isinstance(app.screen, LikelihoodScreen)
        text = screen_text(app)
        assert "log PPL median [q1, q3]" in text
        assert BASE in text and RL in text

        await press_keys(pilot, "escape", "A")
        assert isinstance(app.screen, AnnotationsScreen)
        text = screen_text(app)
        assert REVIEWER in text and NOTE in text and f"labels on {BASE}" in text

        await press_keys(pilot, "escape", "p", "enter", "enter")
        assert isinstance(app.screen, TraceScreen)
        await press_keys(pilot, "slash", *"[/]", "enter")
        assert isinstance(app.screen, TraceScreen) and app.is_running
        assert "for '[/]'" in screen_text(app)  # the notification names the query
