"""Labels are edited, not stacked (issue 9, point 3): one current label per (sample, reviewer)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from reachscope.store import open_db
from reachscope.store.annotations import annotations_of, run_annotations, set_label
from reachscope.tui.app import create_app
from reachscope.tui.screens.annotate import AnnotateScreen
from reachscope.tui.screens.trace import TraceScreen
from textual.widgets import Input, RadioSet

from .helpers import open_first_trace, settle


async def test_relabelling_edits_the_label_and_delete_removes_it(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        trace = await open_first_trace(pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("down", "down", "enter", "tab", *"first", "enter")  # lucky guess
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, AnnotateScreen)
        # The dialog opens on the current label and note.
        assert str(dialog.query_one(RadioSet).pressed_button.label) == "lucky guess"
        assert dialog.query_one("#note", Input).value == "first"
        await pilot.press("up", "enter", "tab", "ctrl+u", *"second", "enter")
        await settle(pilot)
        sample_id = trace.sample.id
        assert [(a["reviewer"], a["note"]) for a in trace.annotations] == [("ada", "second")]
        db = open_db(db_path, read_only=True)
        stored = annotations_of(db, sample_id)
        db.close()
        assert len(stored) == 1 and stored[0]["reviewer"] == "ada"
        assert stored[0]["label"] != "lucky guess"
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("ctrl+d")
        await settle(pilot)
        assert trace.annotations == []
    db = open_db(db_path, read_only=True)
    assert annotations_of(db, sample_id) == []
    db.close()


def test_one_label_per_sample_and_reviewer_in_the_schema(db_path: Path) -> None:
    db = open_db(db_path)
    sample_id, run_id = db.execute("SELECT id, run_id FROM samples LIMIT 1").fetchone()
    set_label(db, sample_id, "wrong reasoning", "x", "ada")
    set_label(db, sample_id, "lucky guess", "y", "ada")
    set_label(db, sample_id, "lucky guess", "", "bob")
    assert sorted((a["reviewer"], a["label"]) for a in annotations_of(db, sample_id)) == [
        ("ada", "lucky guess"), ("bob", "lucky guess")]
    assert len(run_annotations(db, run_id, label="lucky guess")) == 2
    assert run_annotations(db, run_id, label="wrong reasoning") == []
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO annotations (sample_id, reviewer, label, note, created_at) "
                   "VALUES (?, 'ada', 'again', '', 'now')", [sample_id])
    db.close()


def test_reviewer_defaults_to_the_user_name(monkeypatch) -> None:
    from reachscope.core.commands.tui import default_reviewer

    monkeypatch.setattr("getpass.getuser", lambda: "grace")
    assert default_reviewer(None) == "grace"
    assert default_reviewer("ada") == "ada"


async def test_labelled_samples_are_marked_and_listed_per_run(db_path: Path) -> None:
    from reachscope.tui.screens.annotations import AnnotationsScreen
    from reachscope.tui.screens.problem import LABELLED, ProblemScreen
    from textual.widgets import DataTable

    db = open_db(db_path)
    (run_id,) = db.execute("SELECT id FROM runs WHERE label = 'base'").fetchone()
    first, second = [r[0] for r in db.execute(
        "SELECT s.id FROM samples s JOIN problems p ON p.id = s.problem_id "
        "WHERE s.run_id = ? ORDER BY p.idx, s.sample_idx LIMIT 2", [run_id])]
    db.close()
    app = create_app(db_path, poll_interval=0, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        trace = await open_first_trace(pilot)
        assert trace.sample.id == first
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("enter", "tab", "enter")  # the first label
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        problem = app.screen
        assert isinstance(problem, ProblemScreen)
        assert problem.labelled == {first}
        table = problem.query_one("#samples", DataTable)
        assert str(table.get_row_at(0)[0]).endswith(LABELLED)
        assert not str(table.get_row_at(1)[0]).endswith(LABELLED)
        await pilot.press("A")
        await settle(pilot)
        listing = app.screen
        assert isinstance(listing, AnnotationsScreen)
        assert [s.id for _, s in listing.shown] == [first]
        listing.query_one("#label-filter").value = "other"
        await pilot.pause()
        assert listing.shown == []
        listing.query_one("#label-filter").clear()
        await pilot.pause()
        assert len(listing.shown) == 1
        listing.query_one("#annotations").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen) and app.screen.sample.id == first
    assert second != first
