"""Annotations: one current label (and note) per sample and reviewer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from .db import StoreError
from .samples import SampleRow

_COLUMNS = ("id", "sample_id", "reviewer", "label", "note", "created_at", "updated_at")
# One current label per (sample, reviewer): a new label replaces the old one, keeping its id and
# created_at.
_UPSERT = (
    "INSERT INTO annotations (sample_id, reviewer, label, note, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sample_id, reviewer) DO UPDATE SET "
    "label = excluded.label, note = excluded.note, updated_at = excluded.updated_at"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def set_label(
    db: sqlite_utils.Database, sample_id: int, label: str, note: str = "", reviewer: str = ""
) -> int:
    """Store or replace ``reviewer``'s label on a sample; returns the annotation id.

    Raises:
        StoreError: the label is empty.
    """
    if not label.strip():
        raise StoreError("annotation: label must not be empty")
    ts = _now()
    with db.atomic():
        db.execute(_UPSERT, [sample_id, reviewer, label.strip(), note, ts, ts])
        row = db.execute(
            "SELECT id FROM annotations WHERE sample_id = ? AND reviewer = ?",
            [sample_id, reviewer],
        ).fetchone()
    return int(row[0])


def set_labels(db: sqlite_utils.Database, labels: Sequence[tuple[int, str, str]],
               reviewer: str) -> int:
    """Store or replace ``reviewer``'s labels ``(sample id, label, note)`` in one transaction;
    returns how many were written.

    Raises:
        StoreError: a label is empty (nothing is written then).
    """
    if any(not label.strip() for _, label, _ in labels):
        raise StoreError("annotation: label must not be empty")
    ts = _now()
    with db.atomic():
        db.conn.executemany(_UPSERT, [(sid, reviewer, label.strip(), note, ts, ts)
                                      for sid, label, note in labels])
    return len(labels)


def add_annotation(db: sqlite_utils.Database, sample_id: int, label: str, note: str = "") -> int:
    """Label a sample as the anonymous reviewer (kept for callers without a reviewer)."""
    return set_label(db, sample_id, label, note)


def delete_label(db: sqlite_utils.Database, sample_id: int, reviewer: str = "") -> bool:
    """Remove ``reviewer``'s label on a sample; returns whether there was one."""
    with db.atomic():
        cur = db.execute(
            "DELETE FROM annotations WHERE sample_id = ? AND reviewer = ?", [sample_id, reviewer]
        )
    return cur.rowcount > 0


def annotations_of(db: sqlite_utils.Database, sample_id: int) -> list[dict[str, Any]]:
    """The labels on a sample (one per reviewer), oldest first."""
    cur = db.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM annotations WHERE sample_id = ? ORDER BY id",
        [sample_id],
    )
    return [dict(zip(_COLUMNS, r)) for r in cur.fetchall()]


def label_of(db: sqlite_utils.Database, sample_id: int, reviewer: str) -> dict[str, Any] | None:
    """``reviewer``'s current label on a sample, or None."""
    row = db.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM annotations WHERE sample_id = ? AND reviewer = ?",
        [sample_id, reviewer],
    ).fetchone()
    return dict(zip(_COLUMNS, row)) if row is not None else None


def labelled_samples(db: sqlite_utils.Database, sample_ids: list[int]) -> set[int]:
    """Which of ``sample_ids`` carry at least one label (for marks in sample lists)."""
    out: set[int] = set()
    for i in range(0, len(sample_ids), 500):  # stay under SQLite's variable limit
        chunk = sample_ids[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        out |= {int(r[0]) for r in db.execute(
            f"SELECT DISTINCT sample_id FROM annotations WHERE sample_id IN ({marks})", chunk)}
    return out


def labels_of_samples(db: sqlite_utils.Database, sample_ids: list[int],
                      reviewer: str) -> dict[int, str]:
    """``reviewer``'s current label on each of ``sample_ids`` that has one."""
    out: dict[int, str] = {}
    for i in range(0, len(sample_ids), 500):  # stay under SQLite's variable limit
        chunk = sample_ids[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        out.update((int(sid), str(label)) for sid, label in db.execute(
            f"SELECT sample_id, label FROM annotations WHERE reviewer = ? AND sample_id IN "
            f"({marks})", [reviewer, *chunk]))
    return out


def run_annotations(
    db: sqlite_utils.Database, run_id: int, label: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """A run's labels (optionally only ``label``), with problem and sample index, newest first."""
    sql = (
        "SELECT a.id, a.sample_id, a.reviewer, a.label, a.note, "
        "coalesce(a.updated_at, a.created_at), s.problem_id, p.idx, s.sample_idx "
        "FROM annotations a JOIN samples s ON s.id = a.sample_id "
        "JOIN problems p ON p.id = s.problem_id WHERE s.run_id = ?"
    )
    args: list[Any] = [run_id]
    if label is not None:
        sql += " AND a.label = ?"
        args.append(label)
    sql += " ORDER BY a.id DESC LIMIT ?"
    args.append(limit)
    keys = ("id", "sample_id", "reviewer", "label", "note", "at", "problem_id", "problem_idx",
            "sample_idx")
    return [dict(zip(keys, r)) for r in db.execute(sql, args).fetchall()]


def annotated_samples(
    db: sqlite_utils.Database, run_id: int, grader: str | None, label: str | None = None,
    limit: int = 1000,
) -> list[tuple[dict[str, Any], SampleRow]]:
    """A run's labels with their samples (``grader``'s verdicts), newest label first."""
    notes = run_annotations(db, run_id, label, limit)
    if not notes:
        return []
    ids = sorted({n["sample_id"] for n in notes})
    rows: dict[int, SampleRow] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        cur = db.execute(
            "SELECT s.id, s.run_id, s.problem_id, s.sample_idx, s.n_tokens, s.finish_reason, "
            "length(s.text), g.verdict, g.answer FROM samples s "
            "LEFT JOIN grades g ON g.sample_id = s.id AND g.grader = ? "
            f"WHERE s.id IN ({marks})",
            [grader, *chunk],
        )
        rows.update({int(r[0]): SampleRow(*r) for r in cur.fetchall()})
    return [(n, rows[n["sample_id"]]) for n in notes if n["sample_id"] in rows]
