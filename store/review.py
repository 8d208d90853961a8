"""Review queues: a stored, ordered list of samples to label, walked by one reviewer after another.

Labels themselves are annotations (store/annotations.py: one per sample and reviewer), so a queue
only fixes what is reviewed and in which order; progress is "items carrying one of the review
labels from this reviewer", which makes resuming and several reviewers free.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .db import StoreError, has_table
from .runs import now

_CHUNK = 500  # stay under SQLite's variable limit


@dataclass(frozen=True)
class ReviewQueue:
    """A stored queue.

    Attributes:
        params: what built it (runs, graders, thresholds, seed); same params -> same queue.
        selection: what the selection found (problems kept, guessable ones removed, counts).
        blind: whether the review screen hides each item's run.
        size: number of items.
    """

    id: int
    name: str
    params: dict[str, Any]
    selection: dict[str, Any]
    blind: bool
    created_at: str
    size: int


@dataclass(frozen=True)
class ReviewItem:
    """One queue position and the sample it holds."""

    position: int
    sample_id: int
    run_id: int
    run_label: str
    dataset: str
    problem_id: int
    problem_idx: int
    sample_idx: int


_QUEUE_SQL = (
    "SELECT q.id, q.name, q.params, q.selection, q.blind, q.created_at, "
    "(SELECT count(*) FROM review_items i WHERE i.queue_id = q.id) FROM review_queues q"
)
_ITEM_SQL = (
    "SELECT i.position, i.sample_id, s.run_id, r.label, r.dataset, s.problem_id, p.idx, "
    "s.sample_idx FROM review_items i JOIN samples s ON s.id = i.sample_id "
    "JOIN runs r ON r.id = s.run_id JOIN problems p ON p.id = s.problem_id "
)


def _queue(row: Sequence[Any]) -> ReviewQueue:
    return ReviewQueue(int(row[0]), str(row[1]), json.loads(row[2]), json.loads(row[3]),
                       bool(row[4]), str(row[5]), int(row[6]))


def list_queues(db: sqlite_utils.Database) -> list[ReviewQueue]:
    """Every queue, oldest first (none in a file from before review queues)."""
    if not has_table(db, "review_queues"):
        return []
    return [_queue(r) for r in db.execute(_QUEUE_SQL + " ORDER BY q.id").fetchall()]


def get_queue(db: sqlite_utils.Database, name: str) -> ReviewQueue:
    """The queue called ``name``.

    Raises:
        StoreError: no such queue.
    """
    if has_table(db, "review_queues"):
        row = db.execute(_QUEUE_SQL + " WHERE q.name = ?", [name]).fetchone()
        if row is not None:
            return _queue(row)
    known = ", ".join(q.name for q in list_queues(db)) or "none"
    raise StoreError(f"no review queue {name!r} (queues: {known}); build one with "
                     "`reachscope review DB --runs ...`")


def create_queue(db: sqlite_utils.Database, name: str, params: dict[str, Any],
                 sample_ids: Sequence[int], selection: dict[str, Any], blind: bool = True,
                 replace: bool = False) -> tuple[ReviewQueue, bool]:
    """Store a queue, idempotent by name; returns ``(queue, created)``.

    A queue of that name built with the same params is returned as it is (its items and order
    are kept, only ``blind`` follows the call), so re-running a build resumes. Labels are never
    touched, also not by ``replace``.

    Raises:
        StoreError: a queue of that name exists with other params and ``replace`` is false.
    """
    key = json.dumps(params, sort_keys=True)
    with db.atomic():
        row = db.execute("SELECT id, params FROM review_queues WHERE name = ?", [name]).fetchone()
        if row is not None:
            if json.dumps(json.loads(row[1]), sort_keys=True) == key:
                db.execute("UPDATE review_queues SET blind = ? WHERE id = ?", [int(blind), row[0]])
                return get_queue(db, name), False
            if not replace:
                raise StoreError(
                    f"review queue {name!r} exists with other parameters ({row[1]}); pass "
                    "--replace to rebuild it (labels are kept) or --name for another queue")
            db.execute("DELETE FROM review_queues WHERE id = ?", [row[0]])
        cur = db.execute(
            "INSERT INTO review_queues (name, params, selection, blind, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [name, key, json.dumps(selection, sort_keys=True), int(blind), now()])
        qid = int(cur.lastrowid)  # type: ignore[arg-type]
        db.conn.executemany(
            "INSERT INTO review_items (queue_id, position, sample_id) VALUES (?, ?, ?)",
            [(qid, pos, sid) for pos, sid in enumerate(sample_ids)])
    return get_queue(db, name), True


def correct_sample_ids(db: sqlite_utils.Database, run_id: int, grader: str,
                       problem_ids: Sequence[int]) -> dict[int, list[int]]:
    """``problem id -> ids of the run's samples graded correct``, by sample index."""
    out: dict[int, list[int]] = {}
    pids = sorted(set(problem_ids))
    for i in range(0, len(pids), _CHUNK):
        chunk = pids[i : i + _CHUNK]
        cur = db.execute(
            "SELECT s.problem_id, s.id FROM samples s JOIN grades g ON g.sample_id = s.id "
            f"WHERE s.run_id = ? AND g.grader = ? AND g.verdict = 'correct' AND s.problem_id IN "
            f"({', '.join('?' * len(chunk))}) ORDER BY s.problem_id, s.sample_idx",
            [run_id, grader, *chunk])
        for pid, sid in cur:
            out.setdefault(int(pid), []).append(int(sid))
    return out


def queue_items(db: sqlite_utils.Database, queue_id: int, after: int = -1,
                limit: int = 200) -> list[ReviewItem]:
    """One keyset page of a queue: the items at positions above ``after``, in order."""
    cur = db.execute(_ITEM_SQL + "WHERE i.queue_id = ? AND i.position > ? "
                     "ORDER BY i.position LIMIT ?", [queue_id, after, limit])
    return [ReviewItem(*r) for r in cur.fetchall()]


def item_at(db: sqlite_utils.Database, queue_id: int, position: int) -> ReviewItem | None:
    """The item at one position (for going back to the previous one), or None."""
    row = db.execute(_ITEM_SQL + "WHERE i.queue_id = ? AND i.position = ?",
                     [queue_id, position]).fetchone()
    return None if row is None else ReviewItem(*row)


def _marks(labels: Sequence[str]) -> str:
    if not labels:
        raise StoreError("review: no labels given")
    return ", ".join("?" * len(labels))


def pending_items(db: sqlite_utils.Database, queue_id: int, reviewer: str,
                  labels: Sequence[str], after: int = -1, limit: int = 200) -> list[ReviewItem]:
    """One keyset page of the items past ``after`` that ``reviewer`` has not given one of
    ``labels``, in queue order."""
    cur = db.execute(
        _ITEM_SQL + "WHERE i.queue_id = ? AND i.position > ? AND NOT EXISTS (SELECT 1 FROM "
        "annotations a WHERE a.sample_id = i.sample_id AND a.reviewer = ? "
        f"AND a.label IN ({_marks(labels)})) ORDER BY i.position LIMIT ?",
        [queue_id, after, reviewer, *labels, limit])
    return [ReviewItem(*r) for r in cur.fetchall()]


def next_item(db: sqlite_utils.Database, queue_id: int, reviewer: str, labels: Sequence[str],
              after: int = -1) -> ReviewItem | None:
    """The first item past ``after`` that ``reviewer`` has not given one of ``labels``.

    With the default ``after`` this is where the reviewer's review resumes; None when the
    reviewer is done.
    """
    page = pending_items(db, queue_id, reviewer, labels, after, 1)
    return page[0] if page else None


def queue_progress(db: sqlite_utils.Database, queue_id: int,
                   labels: Sequence[str]) -> dict[str, int]:
    """``reviewer -> items of the queue carrying one of their labels`` (of the queue's size)."""
    return {
        str(r): int(n)
        for r, n in db.execute(
            "SELECT a.reviewer, count(*) FROM review_items i JOIN annotations a "
            f"ON a.sample_id = i.sample_id WHERE i.queue_id = ? AND a.label IN ({_marks(labels)}) "
            "GROUP BY a.reviewer ORDER BY a.reviewer", [queue_id, *labels])
    }


def queue_labels(db: sqlite_utils.Database, queue_id: int,
                 labels: Sequence[str]) -> dict[str, dict[int, tuple[str, str]]]:
    """``reviewer -> sample id -> (label, note)`` for the queue's items, review labels only."""
    out: dict[str, dict[int, tuple[str, str]]] = {}
    for reviewer, sid, label, note in db.execute(
            "SELECT a.reviewer, a.sample_id, a.label, a.note FROM review_items i "
            f"JOIN annotations a ON a.sample_id = i.sample_id WHERE i.queue_id = ? "
            f"AND a.label IN ({_marks(labels)}) ORDER BY i.position",
            [queue_id, *labels]):
        out.setdefault(str(reviewer), {})[int(sid)] = (str(label), str(note))
    return out


def run_review_labels(db: sqlite_utils.Database, run_id: int, run_ref: str,
                      labels: Sequence[str]) -> tuple[set[int], dict[int, dict[str, str]],
                                                      dict[int, int]]:
    """What every queue holding a run says about it.

    Returns:
        ``(problems, sample id -> reviewer -> label, sample id -> problem id)``: the problems
        of the queues whose runs include ``run_ref``, and the run's queued samples with their
        ``labels`` (samples without one present with no reviewers).
    """
    queues = [q for q in list_queues(db) if run_ref in q.params.get("runs", [])]
    problems = {int(p) for q in queues for p in q.selection.get("problems", [])}
    by_sample: dict[int, dict[str, str]] = {}
    problem_of: dict[int, int] = {}
    if not queues:
        return problems, by_sample, problem_of
    cur = db.execute(
        "SELECT s.id, s.problem_id, a.reviewer, a.label FROM review_items i "
        "JOIN samples s ON s.id = i.sample_id LEFT JOIN annotations a ON a.sample_id = s.id "
        f"AND a.label IN ({_marks(labels)}) WHERE s.run_id = ? AND i.queue_id IN "
        f"({', '.join('?' * len(queues))})",
        [*labels, run_id, *(q.id for q in queues)])
    for sid, pid, reviewer, label in cur:
        per = by_sample.setdefault(int(sid), {})
        problem_of[int(sid)] = int(pid)
        if reviewer is not None:
            per[str(reviewer)] = str(label)
    return problems, by_sample, problem_of
