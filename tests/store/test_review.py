"""Review queues: idempotent by name, resumable per reviewer, labels kept as annotations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from reachscope.store import StoreError, open_db
from reachscope.store.annotations import set_label
from reachscope.store.counts import run_counts
from reachscope.store.review import (
    correct_sample_ids,
    create_queue,
    get_queue,
    item_at,
    list_queues,
    next_item,
    queue_items,
    queue_labels,
    queue_progress,
)

from .reviewdb import build_review_db

LABELS = ("valid", "flawed", "guess", "ambiguous", "skip")


@pytest.fixture
def toy(tmp_path: Path):
    return build_review_db(tmp_path / "r.db")


def test_hand_built_counts_and_correct_samples(toy) -> None:
    db, pids, runs = toy
    assert run_counts(db, runs["base"], "g")[pids[0]] == (40, 2)
    assert pids[1] not in run_counts(db, runs["direct"], "g")
    got = correct_sample_ids(db, runs["rl"], "g", [pids[0], pids[1], pids[3]])
    assert {p: len(v) for p, v in got.items()} == {pids[0]: 5, pids[1]: 1}


def _queue(db, runs, params=None, **kw):
    ids = correct_sample_ids(db, runs["rl"], "g", list(range(1, 6)))
    items = sorted(s for v in ids.values() for s in v)[:6]
    return create_queue(db, "q", params or {"seed": 0}, items, {"problems": [1]}, **kw), items


def test_create_is_idempotent_by_name_and_refuses_other_params(toy) -> None:
    db, _, runs = toy
    (q, created), items = _queue(db, runs)
    assert created and q.size == len(items) and q.blind
    again, created2 = create_queue(db, "q", {"seed": 0}, [], {}, blind=False)
    assert not created2 and again.id == q.id and again.size == q.size and not again.blind
    with pytest.raises(StoreError, match="other parameters"):
        create_queue(db, "q", {"seed": 1}, items[:2], {})
    set_label(db, items[0], "valid", reviewer="ann")
    rebuilt, created3 = create_queue(db, "q", {"seed": 1}, items[:2], {}, replace=True)
    assert created3 and rebuilt.size == 2
    assert queue_labels(db, rebuilt.id, LABELS) == {"ann": {items[0]: ("valid", "")}}
    assert [x.name for x in list_queues(db)] == ["q"]
    with pytest.raises(StoreError, match="no review queue 'nope'"):
        get_queue(db, "nope")


def test_queue_resumes_per_reviewer(toy) -> None:
    db, _, runs = toy
    (q, _), items = _queue(db, runs)
    first = next_item(db, q.id, "ann", LABELS)
    assert first is not None and first.position == 0 and first.sample_id == items[0]
    assert first.run_label == "rl" and first.dataset == "toy"
    set_label(db, items[0], "valid", reviewer="ann")
    set_label(db, items[1], "skip", reviewer="ann")
    set_label(db, items[2], "interesting", reviewer="ann")  # not a review label: still to do
    nxt = next_item(db, q.id, "ann", LABELS)
    assert nxt is not None and nxt.position == 2
    assert next_item(db, q.id, "ann", LABELS, after=2).position == 3  # type: ignore[union-attr]
    assert next_item(db, q.id, "bob", LABELS).position == 0  # type: ignore[union-attr]
    assert queue_progress(db, q.id, LABELS) == {"ann": 2}
    assert item_at(db, q.id, 1).sample_id == items[1]  # type: ignore[union-attr]
    assert item_at(db, q.id, 99) is None
    for sid in items:
        set_label(db, sid, "flawed", reviewer="bob")
    assert next_item(db, q.id, "bob", LABELS) is None
    assert queue_progress(db, q.id, LABELS) == {"ann": 2, "bob": 6}


def test_items_page_by_position(toy) -> None:
    db, _, runs = toy
    (q, _), items = _queue(db, runs)
    page1 = queue_items(db, q.id, limit=4)
    page2 = queue_items(db, q.id, after=page1[-1].position, limit=4)
    assert [i.sample_id for i in page1 + page2] == items


def test_reviewer_opens_a_file_without_review_tables(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db, _, _ = build_review_db(path)
    db.close()
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE review_items; DROP TABLE review_queues; "
                       "DELETE FROM _sqlite_migrations WHERE name = 'm009_review_queues';")
    conn.commit()
    conn.close()
    viewer = open_db(path, read_only=True)  # m009 is optional for readers
    assert list_queues(viewer) == []
    with pytest.raises(StoreError, match="no review queue"):
        get_queue(viewer, "review")
    viewer.close()
    assert "review_queues" in open_db(path).table_names()


def test_pending_pages_batch_labels_and_run_labels(toy) -> None:
    """pending_items pages what a reviewer has left; set_labels writes a batch in one
    transaction (one current label per sample and reviewer, an empty label refuses the whole
    batch); run_review_labels gives a run's queued samples with their review labels."""
    from reachscope.store.annotations import label_of, set_labels
    from reachscope.store.review import pending_items, run_review_labels

    db, pids, runs = toy
    (q, _), items = _queue(db, runs, params={"seed": 0, "runs": ["toy/rl"]})
    assert set_labels(db, [(items[1], "valid", "a"), (items[3], "unparsed", "b")], "j") == 2
    first = label_of(db, items[1], "j")
    set_labels(db, [(items[1], "flawed", "c")], "j")
    again = label_of(db, items[1], "j")
    assert again is not None and first is not None
    assert (again["id"], again["label"], again["note"]) == (first["id"], "flawed", "c")
    with pytest.raises(StoreError, match="must not be empty"):
        set_labels(db, [(items[4], "valid", ""), (items[5], " ", "")], "j")
    assert label_of(db, items[4], "j") is None  # nothing of the refused batch was written
    left = pending_items(db, q.id, "j", LABELS, limit=2)
    assert [i.sample_id for i in left] == [items[0], items[2]]
    rest = pending_items(db, q.id, "j", LABELS, after=left[-1].position)
    assert [i.sample_id for i in rest] == [items[3], items[4], items[5]]  # unparsed: still to do
    problems, by_sample, problem_of = run_review_labels(db, runs["rl"], "toy/rl", LABELS)
    assert problems == {1}
    assert sorted(by_sample) == items and by_sample[items[1]] == {"j": "flawed"}
    assert by_sample[items[3]] == {} and problem_of[items[0]] in pids
    assert run_review_labels(db, runs["base"], "toy/base", LABELS) == (set(), {}, {})
