"""Grades: verdicts per (sample, grader), the graders a run has, and answer groups."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .db import StoreError
from .models import GradeIn, Run
from .runs import now
from .schema import VERDICTS


@dataclass
class AnswerGroup:
    """Samples of one (run, problem) that share an extracted answer."""

    answer: str | None
    count: int
    correct: int

    @property
    def verdict(self) -> str:
        return "correct" if self.correct == self.count else "incorrect" if not self.correct \
            else "mixed"


def write_grades(db: sqlite_utils.Database, grades: Iterable[GradeIn]) -> int:
    """Insert or replace grades on (sample, grader); the counts table follows via triggers."""
    ts = now()
    rows = []
    for g in grades:
        if g.verdict not in VERDICTS:
            raise StoreError(f"grade of sample {g.sample_id}: unknown verdict {g.verdict!r}")
        rows.append((g.sample_id, g.grader, g.grader_version, g.verdict, g.answer, g.detail, ts))
    if not rows:
        return 0
    cur = db.conn.executemany(
        "INSERT INTO grades (sample_id, grader, grader_version, verdict, answer, detail, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (sample_id, grader) DO UPDATE SET grader_version = excluded.grader_version, "
        "verdict = excluded.verdict, answer = excluded.answer, detail = excluded.detail, "
        "created_at = excluded.created_at "
        "WHERE (grades.verdict, grades.answer, grades.detail, grades.grader_version) IS NOT "
        "(excluded.verdict, excluded.answer, excluded.detail, excluded.grader_version)",
        rows,
    )
    return max(cur.rowcount, 0)


def graders_of_run(db: sqlite_utils.Database, run_id: int) -> list[tuple[str, int]]:
    """Graders with counts for a run, and how many samples each has graded."""
    return [
        (g, int(n))
        for g, n in db.execute(
            "SELECT grader, sum(n) FROM counts WHERE run_id = ? GROUP BY grader ORDER BY grader",
            [run_id],
        )
    ]


def resolve_grader(db: sqlite_utils.Database, run: Run, grader: str | None = None) -> str:
    """The grader whose verdicts count for a run: the one asked for, else the run's primary one."""
    available = [g for g, _ in graders_of_run(db, run.id)]
    chosen = grader or run.primary_grader or (available[0] if len(available) == 1 else None)
    if chosen is None:
        raise StoreError(
            f"run {run.ref}: no grades yet" if not available else
            f"run {run.ref}: several graders ({', '.join(available)}); choose one with --grader"
        )
    if chosen not in available:
        raise StoreError(
            f"run {run.ref}: no grades from grader {chosen!r} "
            f"(available: {', '.join(available) or 'none'})"
        )
    return chosen


def solved_within(db: sqlite_utils.Database, run_id: int, grader: str, k: int) -> set[int]:
    """Problems with a correct sample among their first ``k`` samples (by sample index)."""
    return {
        int(r[0])
        for r in db.execute(
            "SELECT DISTINCT s.problem_id FROM samples s JOIN grades g ON g.sample_id = s.id "
            "WHERE s.run_id = ? AND g.grader = ? AND g.verdict = 'correct' AND s.sample_idx < ?",
            [run_id, grader, k],
        )
    }


def answer_groups(db: sqlite_utils.Database, run_id: int, problem_id: int,
                  grader: str) -> list[AnswerGroup]:
    """A run's solution set on one problem grouped by extracted answer, largest group first."""
    rows = db.execute(
        "SELECT g.answer, count(*), sum(g.verdict = 'correct') FROM samples s "
        "JOIN grades g ON g.sample_id = s.id AND g.grader = ? "
        "WHERE s.run_id = ? AND s.problem_id = ? GROUP BY g.answer "
        "ORDER BY count(*) DESC, g.answer",
        [grader, run_id, problem_id],
    ).fetchall()
    return [AnswerGroup(a, int(n), int(c)) for a, n, c in rows]


_NOT_GRADED = " AND NOT EXISTS (SELECT 1 FROM grades g WHERE g.sample_id = s.id AND g.grader = ?)"


def count_to_grade(db: sqlite_utils.Database, run_id: int, grader: str, regrade: bool) -> int:
    """Samples of a run that ``grader`` has not graded (all of them when ``regrade``)."""
    sql = "SELECT count(*) FROM samples s WHERE s.run_id = ?"
    args: list[Any] = [run_id]
    if not regrade:
        sql += _NOT_GRADED
        args.append(grader)
    return int(db.execute(sql, args).fetchone()[0])


def samples_to_grade(
    db: sqlite_utils.Database, run_id: int, grader: str, regrade: bool, after: int, limit: int
) -> list[tuple[int, int, str]]:
    """``(sample id, problem id, text)`` to grade, one keyset page (ids above ``after``)."""
    args: list[Any] = [run_id, after] + ([] if regrade else [grader]) + [limit]
    missing = "" if regrade else _NOT_GRADED
    return [
        (int(sid), int(pid), str(text))
        for sid, pid, text in db.execute(
            f"SELECT s.id, s.problem_id, s.text FROM samples s WHERE s.run_id = ? AND s.id > ?"
            f"{missing} ORDER BY s.id LIMIT ?", args,
        )
    ]


def grader_disagreements(
    db: sqlite_utils.Database, run_id: int, grader_a: str, grader_b: str, limit: int | None
) -> tuple[int, list[tuple[Any, ...]]]:
    """Samples both graders graded, and those where they disagree on correctness.

    Returns ``(graded by both, rows)``, each row ``(sample id, problem index, sample index,
    reference, verdict a, answer a, verdict b, answer b)`` by problem and sample index.
    """
    both = int(db.execute(
        "SELECT count(*) FROM grades a JOIN grades b ON b.sample_id = a.sample_id "
        "JOIN samples s ON s.id = a.sample_id "
        "WHERE s.run_id = ? AND a.grader = ? AND b.grader = ?", [run_id, grader_a, grader_b],
    ).fetchone()[0])
    sql = (
        "SELECT s.id, p.idx, s.sample_idx, p.answer, a.verdict, a.answer, b.verdict, b.answer "
        "FROM grades a JOIN grades b ON b.sample_id = a.sample_id "
        "JOIN samples s ON s.id = a.sample_id JOIN problems p ON p.id = s.problem_id "
        "WHERE s.run_id = ? AND a.grader = ? AND b.grader = ? "
        "AND (a.verdict = 'correct') <> (b.verdict = 'correct') "
        "ORDER BY p.idx, s.sample_idx"
    )
    args: list[Any] = [run_id, grader_a, grader_b]
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    return both, [tuple(r) for r in db.execute(sql, args).fetchall()]
