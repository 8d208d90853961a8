"""Grader disagreements: samples where two graders of a run differ on correctness."""

from __future__ import annotations

import sqlite_utils


def common_graders(db: sqlite_utils.Database, run_ids: list[int]) -> list[str]:
    """Graders that have graded every one of ``run_ids`` (read from `counts`), by name."""
    if not run_ids:
        return []
    marks = ", ".join("?" * len(run_ids))
    rows = db.execute(
        f"SELECT grader FROM counts WHERE run_id IN ({marks}) AND n > 0 "
        "GROUP BY grader HAVING count(DISTINCT run_id) = ? ORDER BY grader",
        [*run_ids, len(run_ids)],
    ).fetchall()
    return [str(r[0]) for r in rows]


def disagreeing_samples(db: sqlite_utils.Database, run_id: int, problem_id: int) -> set[int]:
    """Samples of one (run, problem) on which the run's graders differ on correctness (what
    `reachscope audit` lists, for any pair of graders)."""
    rows = db.execute(
        "SELECT s.id FROM samples s JOIN grades g ON g.sample_id = s.id "
        "WHERE s.run_id = ? AND s.problem_id = ? GROUP BY s.id "
        "HAVING count(DISTINCT g.verdict = 'correct') > 1",
        [run_id, problem_id],
    ).fetchall()
    return {int(r[0]) for r in rows}
