"""Cached maj@k: per (run, problem, grader, k), computed from `answer_counts` (issue 11).

The values are written by core.vote_cache after clustering; triggers on `answer_counts`
(store/schema.py, m007) delete a (run, problem, grader)'s values whenever one of its answer
rows changes, so whatever is here is current. A file without the table (a viewer that did not
migrate it) has no cached values: readers compute them all.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils

from .db import has_table

TABLE = "maj_at_k"


def cached_maj(db: sqlite_utils.Database, run_id: int, grader: str,
               ks: Iterable[int] | None = None) -> list[tuple[int, int, float]]:
    """A run's cached maj@k values as ``(problem id, k, value)`` rows (``ks``: only those k;
    empty without the table)."""
    if not has_table(db, TABLE):
        return []
    where, args = "run_id = ? AND grader = ?", [run_id, grader]
    if ks is not None:
        wanted = sorted(set(ks))
        where += f" AND k IN ({','.join('?' * len(wanted))})"
        args += wanted
    return db.execute(f"SELECT problem_id, k, value FROM {TABLE} WHERE {where}",
                      args).fetchall()


def uncached_problems(db: sqlite_utils.Database, grader: str,
                      run_ids: list[int] | None = None) -> dict[int, list[int]]:
    """Problems with graded answers of ``grader`` but no cached maj@k: ``{run id: [problem
    ids]}`` (``run_ids``: only those runs; empty without the tables)."""
    if not (has_table(db, TABLE) and has_table(db, "answer_counts")):
        return {}
    where = "a.grader = ? AND a.n > 0"
    args: list[object] = [grader]
    if run_ids is not None:
        if not run_ids:
            return {}
        where += f" AND a.run_id IN ({','.join('?' * len(run_ids))})"
        args += run_ids
    out: dict[int, list[int]] = {}
    for run_id, pid in db.execute(
            f"SELECT a.run_id, a.problem_id FROM answer_counts a WHERE {where} "
            "GROUP BY a.run_id, a.problem_id HAVING NOT EXISTS (SELECT 1 FROM "
            f"{TABLE} m WHERE m.run_id = a.run_id AND m.problem_id = a.problem_id "
            "AND m.grader = a.grader) ORDER BY a.run_id, a.problem_id", args):
        out.setdefault(int(run_id), []).append(int(pid))
    return out


def write_maj(db: sqlite_utils.Database, grader: str,
              rows: Iterable[tuple[int, int, int, float]]) -> int:
    """Store maj@k values: rows of ``(run id, problem id, k, value)``, replacing any there.

    Returns:
        Rows written.
    """
    cur = db.conn.executemany(
        f"INSERT OR REPLACE INTO {TABLE} (run_id, problem_id, grader, k, value) "
        "VALUES (?, ?, ?, ?, ?)",
        [(run_id, pid, grader, k, value) for run_id, pid, k, value in rows])
    return max(cur.rowcount, 0)


def delete_maj(db: sqlite_utils.Database, grader: str, run_id: int,
               problem_ids: list[int]) -> None:
    """Drop the cached maj@k of these problems of a run (values computed from stale counts)."""
    db.conn.executemany(
        f"DELETE FROM {TABLE} WHERE run_id = ? AND problem_id = ? AND grader = ?",
        [(run_id, pid, grader) for pid in sorted(set(problem_ids))])
