"""Samples: batched idempotent inserts and reads that never load a whole samples table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .db import StoreError
from .models import SampleIn
from .runs import now


@dataclass
class SampleRow:
    """A sample with one grader's verdict (None where that grader has not graded it)."""

    id: int
    run_id: int
    problem_id: int
    sample_idx: int
    n_tokens: int | None
    finish_reason: str | None
    length: int
    verdict: str | None
    answer: str | None


def write_samples(db: sqlite_utils.Database, run_id: int, samples: Iterable[SampleIn]) -> int:
    """Insert samples; a (run, problem, sample index) already stored is left as it is.

    Call inside ``db.atomic()`` to make a batch one transaction. Returns the number inserted.
    """
    ts = now()
    cur = db.conn.executemany(
        "INSERT OR IGNORE INTO samples (run_id, problem_id, sample_idx, text, n_tokens, "
        "finish_reason, seed, latency_s, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (run_id, s.problem_id, s.sample_idx, s.text, s.n_tokens, s.finish_reason, s.seed,
             s.latency_s, ts)
            for s in samples
        ),
    )
    return max(cur.rowcount, 0)


def samples_of_problem(
    db: sqlite_utils.Database, run_id: int, problem_id: int, grader: str | None
) -> list[SampleRow]:
    """Every sample of one (run, problem), by index, with the given grader's verdicts."""
    cur = db.execute(
        "SELECT s.id, s.run_id, s.problem_id, s.sample_idx, s.n_tokens, s.finish_reason, "
        "length(s.text), g.verdict, g.answer FROM samples s "
        "LEFT JOIN grades g ON g.sample_id = s.id AND g.grader = ? "
        "WHERE s.run_id = ? AND s.problem_id = ? ORDER BY s.sample_idx",
        [grader, run_id, problem_id],
    )
    return [SampleRow(*r) for r in cur.fetchall()]


def sample_text(db: sqlite_utils.Database, sample_id: int) -> str:
    """The completion text of one sample."""
    row = db.execute("SELECT text FROM samples WHERE id = ?", [sample_id]).fetchone()
    if row is None:
        raise StoreError(f"no sample with id {sample_id}")
    return str(row[0])


def sample_texts(db: sqlite_utils.Database, run_id: int, problem_id: int) -> dict[int, str]:
    """``sample id -> text`` for every sample of one (run, problem)."""
    return {
        int(sid): str(text)
        for sid, text in db.execute(
            "SELECT id, text FROM samples WHERE run_id = ? AND problem_id = ? ORDER BY sample_idx",
            [run_id, problem_id],
        )
    }


def sample_info(db: sqlite_utils.Database, sample_id: int,
                grader: str | None) -> dict[str, Any] | None:
    """One sample's columns (without text) and the given grader's verdict and answer."""
    cur = db.execute(
        "SELECT s.id, s.run_id, s.problem_id, s.sample_idx, s.n_tokens, s.finish_reason, "
        "length(s.text) AS length, g.verdict, g.answer FROM samples s "
        "LEFT JOIN grades g ON g.sample_id = s.id AND g.grader = ? WHERE s.id = ?",
        [grader, sample_id],
    )
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row))


def last_sample_id(db: sqlite_utils.Database) -> int:
    """The highest sample id (moves whenever any run stores a sample)."""
    return int(db.execute("SELECT coalesce(max(id), 0) FROM samples").fetchone()[0])


def next_sample_index(db: sqlite_utils.Database, run_id: int) -> dict[int, int]:
    """``problem_id -> 1 + highest stored sample index`` for a run."""
    return {
        int(p): int(m) + 1
        for p, m in db.execute(
            "SELECT problem_id, max(sample_idx) FROM samples WHERE run_id = ? GROUP BY problem_id",
            [run_id],
        )
    }


def sample_texts_in_range(
    db: sqlite_utils.Database, run_id: int, problem_id: int, first: int, last: int
) -> list[tuple[int, str]]:
    """``(sample id, text)`` of one (run, problem) with sample index in ``first..last``."""
    return [
        (int(sid), str(text))
        for sid, text in db.execute(
            "SELECT id, text FROM samples WHERE run_id = ? AND problem_id = ? "
            "AND sample_idx BETWEEN ? AND ?",
            [run_id, problem_id, first, last],
        )
    ]


def ungraded_samples(
    db: sqlite_utils.Database, run_id: int, grader: str, after: int = 0, limit: int = 512
) -> list[tuple[int, str, int]]:
    """``(sample id, text, problem id)`` of a run's samples that ``grader`` has not graded.

    Keyset-paginated: pass the last id seen as ``after``; at most ``limit`` rows, by id.
    """
    return [
        (int(sid), str(text), int(pid))
        for sid, text, pid in db.execute(
            "SELECT s.id, s.text, s.problem_id FROM samples s "
            "WHERE s.run_id = ? AND s.id > ? AND NOT EXISTS (SELECT 1 FROM grades g "
            "WHERE g.sample_id = s.id AND g.grader = ?) ORDER BY s.id LIMIT ?",
            [run_id, after, grader, limit],
        )
    ]


def sample_index_stats(db: sqlite_utils.Database, run_id: int) -> dict[int, tuple[int, int]]:
    """``problem id -> (samples stored, highest sample index)`` for a run."""
    return {
        int(pid): (int(count), int(top))
        for pid, count, top in db.execute(
            "SELECT problem_id, count(*), max(sample_idx) FROM samples WHERE run_id = ? "
            "GROUP BY problem_id",
            [run_id],
        )
    }


def sample_indices(db: sqlite_utils.Database, run_id: int, problem_id: int) -> set[int]:
    """Sample indices stored for one (run, problem)."""
    return {
        int(r[0])
        for r in db.execute(
            "SELECT sample_idx FROM samples WHERE run_id = ? AND problem_id = ?",
            [run_id, problem_id],
        )
    }
