"""Counts: the (n, c) aggregates per (run, problem, grader) that every analysis reads."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from .db import StoreError, has_table


def run_counts(db: sqlite_utils.Database, run_id: int, grader: str) -> dict[int, tuple[int, int]]:
    """``problem_id -> (n, c)`` for one run and grader."""
    return {
        int(pid): (int(n), int(c))
        for pid, n, c in db.execute(
            "SELECT problem_id, n, c FROM counts WHERE run_id = ? AND grader = ? AND n > 0",
            [run_id, grader],
        )
    }


def write_counts(
    db: sqlite_utils.Database, run_id: int, grader: str, rows: Iterable[tuple[int, int, int]]
) -> None:
    """Store ``(problem_id, n, c)`` directly, for aggregate-only runs."""
    checked = []
    for pid, n, c in rows:
        if n < 0 or c < 0 or c > n:
            raise StoreError(f"counts for problem {pid}: need 0 <= c <= n, got n={n}, c={c}")
        checked.append((run_id, pid, grader, n, c))
    db.conn.executemany(
        "INSERT INTO counts (run_id, problem_id, grader, n, c) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id, problem_id, grader) DO UPDATE SET n = excluded.n, c = excluded.c",
        checked,
    )


def max_samples(db: sqlite_utils.Database, run_ids: list[int]) -> int:
    """The largest n of any problem in these runs (for the k grid)."""
    if not run_ids:
        return 0
    row = db.execute(
        f"SELECT max(n) FROM counts WHERE run_id IN ({','.join('?' * len(run_ids))})", run_ids
    ).fetchone()
    return int(row[0] or 0)


def count_totals(db: sqlite_utils.Database) -> dict[tuple[int, str], tuple[int, int, int]]:
    """``(run id, grader) -> (problems, sum n, sum c)``: a cheap fingerprint of every run's grades
    (one row per run and problem, never the samples)."""
    return {
        (int(r), str(g)): (int(p), int(n or 0), int(c or 0))
        for r, g, p, n, c in db.execute(
            "SELECT run_id, grader, count(*), sum(n), sum(c) FROM counts GROUP BY run_id, grader"
        )
    }


def counted_problem_metadata(db: sqlite_utils.Database,
                             run_ids: list[int]) -> dict[int, dict[str, Any]]:
    """``problem id -> metadata`` of the problems any of these runs has counts for.

    Only the metadata column is read (never prompts or samples), for breakdowns by a metadata
    field such as ``difficulty``.
    """
    if not run_ids:
        return {}
    marks = ",".join("?" * len(run_ids))
    return {
        int(pid): json.loads(meta or "{}")
        for pid, meta in db.execute(
            f"SELECT id, metadata FROM problems WHERE id IN "
            f"(SELECT problem_id FROM counts WHERE run_id IN ({marks}) AND n > 0)",
            run_ids,
        )
    }


def sample_totals(db: sqlite_utils.Database,
                  run_ids: list[int] | None = None) -> dict[int, tuple[int, int]]:
    """``run id -> (samples stored, problems with a stored sample)``, for ``run_ids`` (every run
    when None); runs without samples are left out.

    Read from ``sample_counts`` (one row per run and problem, kept by triggers). A file that a
    read-only viewer opened without migrating it lacks that table: the samples are counted then,
    which gives the same figures more slowly.
    """
    source = (
        "sample_counts" if has_table(db, "sample_counts")
        else "(SELECT run_id, problem_id, count(*) AS n FROM samples GROUP BY run_id, problem_id)"
    )
    sql = f"SELECT run_id, sum(n), count(*) FROM {source}"
    args: list[int] = []
    if run_ids is not None:
        if not run_ids:
            return {}
        sql += f" WHERE run_id IN ({','.join('?' * len(run_ids))})"
        args = list(run_ids)
    return {
        int(r): (int(n), int(p))
        for r, n, p in db.execute(sql + " GROUP BY run_id", args)
        if n
    }
