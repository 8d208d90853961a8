"""The Review screen (issue 13): label a queue by one key each, undo, resume, blind review,
reviewer agreement, whole words at 80x24, and labels as the only change to the file."""

from __future__ import annotations

import gc
import os
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from reachscope.core.cli import cli
from reachscope.core.review import cohen_kappa
from reachscope.store import open_db
from reachscope.store.annotations import delete_label, run_annotations, set_label
from reachscope.store.review import get_queue, queue_items
from reachscope.store.runs import list_runs
from reachscope.tui.app import create_app
from reachscope.tui.screens.review import NO_QUEUE, ReviewScreen
from reachscope.tui.screens.review_queues import QueuePicker
from reachscope.tui.screens.reviewers import ReviewersScreen
from textual.widgets import DataTable, Static

from .helpers import demo_copy, press_keys, screen_text
from .test_viewer_safety import content_digest, journal_mode


def build_queue(path: Path, *extra: str) -> None:
    """`reachscope review` on the demo's lab-arith runs, then the file back to its journal mode
    (the build is a writer and switches it to WAL; the app must not).

    The demo ships a queue of the same name labelled by the lab's step checker: these tests
    start from an unlabelled queue, so the copy loses those labels and the queue is rebuilt
    (``--replace``) with this selection."""
    db = open_db(path)
    for run in list_runs(db):
        for a in run_annotations(db, run.id):
            if a["reviewer"] == "step-checker":
                delete_label(db, a["sample_id"], "step-checker")
    db.close()
    result = CliRunner().invoke(cli, ["review", str(path), "--runs", "base", "rl",
                                      "--max-accuracy", "0.3", "--replace", *extra],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    gc.collect()  # the command leaves its connection to the process's exit
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=delete")
    conn.close()


@pytest.fixture
def queue_db(tmp_path: Path) -> Path:
    path = demo_copy(tmp_path)
    build_queue(path)
    return path


def items(path: Path, name: str = "review") -> list:  # noqa: ANN401  (ReviewItem)
    db = open_db(path, read_only=True)
    try:
        return queue_items(db, get_queue(db, name).id, limit=1000)
    finally:
        db.close()


def labels_of(path: Path) -> list[tuple[int, str, str, str]]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in conn.execute(
            "SELECT sample_id, reviewer, label, note FROM annotations ORDER BY id")]
    finally:
        conn.close()


def head(app) -> str:  # noqa: ANN001
    return str(app.screen.query_one("#review-head", Static).render())


async def test_label_undo_and_resume(queue_db: Path) -> None:
    queue = items(queue_db)
    before = labels_of(queue_db)
    app = create_app(queue_db, poll_interval=0, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "R")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        assert screen.item is not None and screen.item.position == 0
        assert f"0 / {len(queue)}" in screen_text(app)
        await press_keys(pilot, "v", "f", "g")
        assert screen.item.position == 3
        assert f"3 / {len(queue)}" in screen_text(app)
        assert "✓ guess: item 3" in head(app)
        assert labels_of(queue_db)[len(before):] == [
            (queue[0].sample_id, "ada", "valid", ""), (queue[1].sample_id, "ada", "flawed", ""),
            (queue[2].sample_id, "ada", "guess", "")]
        await press_keys(pilot, "u")
        assert screen.item.position == 2  # back to the item whose label was undone
        assert labels_of(queue_db)[len(before):] == [
            (queue[0].sample_id, "ada", "valid", ""), (queue[1].sample_id, "ada", "flawed", "")]
        assert f"2 / {len(queue)}" in screen_text(app)
        # A note, then a label: both saved together.
        await press_keys(pilot, "n", *"why", "enter")
        assert "note: why" in head(app)
        await press_keys(pilot, "a")
        assert labels_of(queue_db)[-1] == (queue[2].sample_id, "ada", "ambiguous", "why")
        await press_keys(pilot, "u", "]", "]", "[")
        assert screen.item.position == 3
    app = create_app(queue_db, poll_interval=0, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "R")
        assert app.screen.item.position == 2  # the first item ada has not labelled
        assert "label:" not in head(app)
        await press_keys(pilot, "[")
        assert "label: flawed" in head(app)  # an item labelled earlier shows its label
    app = create_app(queue_db, poll_interval=0, reviewer="bob")
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "R")
        assert app.screen.item.position == 0  # another reviewer starts at the top


async def test_blind_queue_hides_the_run(queue_db: Path) -> None:
    first = items(queue_db)[0]
    app = create_app(queue_db, poll_interval=0, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "R")
        text = screen_text(app)
        assert "blind" in head(app)
        assert not re.search(r"(?<![\w-])(base|rl)(?![\w-])", text), text
    build_queue(queue_db, "--show-runs")  # the same queue, runs shown
    app = create_app(queue_db, poll_interval=0, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "R")
        assert re.search(rf"· {first.run_label}\b", head(app)), head(app)


async def test_agreement_shows_kappa_and_opens_a_disagreement(queue_db: Path) -> None:
    queue = items(queue_db)[:8]
    ada = ["valid", "valid", "flawed", "guess", "valid", "ambiguous", "skip", "valid"]
    bob = ["valid", "flawed", "flawed", "guess", "valid", "valid", "valid", "valid"]
    db = open_db(queue_db)
    for item, a, b in zip(queue, ada, bob):
        set_label(db, item.sample_id, a, "", "ada")
        set_label(db, item.sample_id, b, "", "bob")
    db.close()
    build_queue(queue_db)  # back to journal_mode=delete
    expected = cohen_kappa({i.sample_id: a for i, a in zip(queue, ada)},
                           {i.sample_id: b for i, b in zip(queue, bob)})
    assert expected.kappa is not None and len(expected.disagreements) == 2
    app = create_app(queue_db, poll_interval=0, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "R", "K")
        assert isinstance(app.screen, ReviewersScreen)
        pairs = app.screen.query_one("#pairs", DataTable)
        assert pairs.get_row_at(0) == ["ada / bob", str(expected.n), str(expected.agreed),
                                       f"{expected.kappa:.3f}"]
        text = screen_text(app)
        for word in ("reviewers", "both judged", "agreed", "kappa", "disagreeing"):
            assert word in text, (word, text)
        disagreements = app.screen.query_one("#disagreements", DataTable)
        assert disagreements.row_count == 2
        assert disagreements.get_row_at(0) == ["2", str(queue[1].problem_idx), "valid", "flawed"]
        await press_keys(pilot, "enter", "down", "enter")  # the second disagreement: item 6
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.item.position == 5
        assert "label: ambiguous" in head(app)


async def test_review_words_are_whole_at_80x24(queue_db: Path) -> None:
    app = create_app(queue_db, poll_interval=0, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "R")
        text = screen_text(app)
        for word in ("Valid", "Flawed", "Guess", "Ambiguous", "Skip", "Undo", "Note", "Next",
                     "Agree", "reference", "answer", "ada", "blind", "item", "problem"):
            assert re.search(rf"(?<![\w-]){word}(?![\w-])", text), (word, text)
        await press_keys(pilot, "question_mark")
        text = screen_text(app)
        for words in ("Label: valid", "Undo the last label", "Previous item", "Cohen's kappa"):
            assert words in text, (words, text)


async def test_labelling_changes_only_annotation_rows(queue_db: Path) -> None:
    assert journal_mode(queue_db) == "delete"
    digest, listing = content_digest(queue_db), sorted(os.listdir(queue_db.parent))
    app = create_app(queue_db, poll_interval=0.05, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "R", "v", "s", "u", "f")
    assert [label for _, _, label, _ in labels_of(queue_db)][-2:] == ["valid", "flawed"]
    assert journal_mode(queue_db) == "delete"
    assert content_digest(queue_db) == digest
    assert sorted(os.listdir(queue_db.parent)) == listing


async def test_read_only_session_refuses_labels(queue_db: Path) -> None:
    before = labels_of(queue_db)
    app = create_app(queue_db, poll_interval=0, reviewer="ada", allow_labels=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "R", "v")
        assert app.screen.item.position == 0
        assert "read-only" in head(app)
        assert any("Read-only" in n.message and "--allow-labels" in n.message
                   for n in app._notifications)
        await press_keys(pilot, "]")  # moving still works
        assert app.screen.item.position == 1
    assert labels_of(queue_db) == before


async def test_without_a_queue_the_screen_says_how_to_build_one(db_path: Path) -> None:
    # The small fixture database (base and rl, no queue): the demo ships one.
    app = create_app(db_path, poll_interval=0, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "R", "v")
        assert isinstance(app.screen, ReviewScreen)
        assert "reachscope review DB --runs base rl" in screen_text(app)
        assert head(app) == NO_QUEUE


async def test_several_queues_ask_which(queue_db: Path) -> None:
    build_queue(queue_db, "--name", "second", "--max-accuracy", "0.1")
    second = items(queue_db, "second")
    app = create_app(queue_db, poll_interval=0, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "R")
        assert isinstance(app.screen, QueuePicker)
        await press_keys(pilot, "down", "enter")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        assert screen.queue is not None and screen.queue.name == "second"
        assert screen.item.sample_id == second[0].sample_id
        assert f"0 / {len(second)}" in screen_text(app)


async def test_queue_picker_shows_the_reviewers_progress(queue_db: Path) -> None:
    """Each queue's line counts the items carrying a label of the current reviewer (only
    theirs; ``skip`` counts, a judge's failure records and other labels do not); a sample in two
    queues counts in both."""
    build_queue(queue_db, "--name", "second", "--max-accuracy", "0.1")
    first, second = items(queue_db), items(queue_db, "second")
    db = open_db(queue_db)
    for it in second[:2]:
        set_label(db, it.sample_id, "valid", "", "ada")
    set_label(db, first[-1].sample_id, "skip", "", "ada")
    set_label(db, first[0].sample_id, "valid", "", "bob")
    set_label(db, first[1].sample_id, "unparsed", "", "ada")
    db.close()
    ada = {it.sample_id for it in second[:2]} | {first[-1].sample_id}
    want = {"review": len(ada & {it.sample_id for it in first}),
            "second": len(ada & {it.sample_id for it in second})}
    assert want["second"] == 2 + (first[-1].sample_id in {it.sample_id for it in second})
    app = create_app(queue_db, poll_interval=0, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "R")
        assert isinstance(app.screen, QueuePicker)
        text = screen_text(app)
        assert f"review  {want['review']}/{len(first)} labelled  blind" in text
        assert f"second  {want['second']}/{len(second)} labelled  blind" in text
        await press_keys(pilot, "down", "enter")
        assert f"{want['second']} / {len(second)}" in screen_text(app)
        await press_keys(pilot, "v", "c")
        assert isinstance(app.screen, QueuePicker)
        assert f"second  {want['second'] + 1}/{len(second)} labelled" in screen_text(app)
