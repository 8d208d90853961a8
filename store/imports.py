"""Reads and writes of imports: imported files, sample keys, provenance, upstream answers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils

from .runs import now

#: Problem ids per ``IN (...)`` query (well under SQLite's variable limit).
_CHUNK = 500


def imported_hashes(db: sqlite_utils.Database, run_id: int) -> set[str]:
    """Content hashes of the files already imported into a run."""
    return {r[0] for r in db.execute("SELECT sha256 FROM imports WHERE run_id = ?", [run_id])}


def record_import(
    db: sqlite_utils.Database, run_id: int, sha256: str, path: str, records: int
) -> None:
    """Remember that a file (by content hash) was imported into a run."""
    db.execute(
        "INSERT INTO imports (run_id, sha256, path, records, imported_at) VALUES (?, ?, ?, ?, ?)",
        [run_id, sha256, path, records, now()],
    )


def sample_ids(
    db: sqlite_utils.Database, run_id: int, problem_ids: Iterable[int]
) -> dict[tuple[int, int], int]:
    """``(problem id, sample index) -> sample id`` for the stored samples of those problems."""
    wanted = sorted(set(problem_ids))
    out: dict[tuple[int, int], int] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        for sid, pid, idx in db.execute(
            "SELECT id, problem_id, sample_idx FROM samples "
            f"WHERE run_id = ? AND problem_id IN ({marks})",
            [run_id, *chunk],
        ):
            out[(int(pid), int(idx))] = int(sid)
    return out


def import_summary(db: sqlite_utils.Database, run_id: int) -> dict[str, Any]:
    """What a run's provenance records about its imports.

    Returns:
        ``files`` (path, sha256, records of each imported file, in order), ``seeds`` (the
        distinct sample seeds) and ``n_max`` (the most samples of one problem, or None).
    """
    files = [
        {"path": p, "sha256": s, "records": n}
        for p, s, n in db.execute(
            "SELECT path, sha256, records FROM imports WHERE run_id = ? ORDER BY imported_at",
            [run_id],
        )
    ]
    seeds = [int(s) for (s,) in db.execute(
        "SELECT DISTINCT seed FROM samples WHERE run_id = ? AND seed IS NOT NULL ORDER BY seed",
        [run_id])]
    n_max = db.execute(
        "SELECT max(c) FROM (SELECT count(*) AS c FROM samples WHERE run_id = ? "
        "GROUP BY problem_id)", [run_id]).fetchone()[0]
    return {"files": files, "seeds": seeds, "n_max": n_max}


def run_provenance(db: sqlite_utils.Database, run_id: int) -> dict[str, Any]:
    """A run's provenance object."""
    row = db.execute("SELECT provenance FROM runs WHERE id = ?", [run_id]).fetchone()
    return dict(json.loads(row[0] or "{}")) if row else {}


def max_count_n(db: sqlite_utils.Database, run_id: int) -> int | None:
    """The largest n of an aggregate-only run's counts."""
    value = db.execute("SELECT max(n) FROM counts WHERE run_id = ?", [run_id]).fetchone()[0]
    return None if value is None else int(value)


def write_upstream_answers(
    db: sqlite_utils.Database, rows: Sequence[tuple[int, str]]
) -> int:
    """Store ``(sample id, answer)``: the answer an upstream toolkit extracted (its ``pred``).

    Kept apart from grades so that a file without verdicts keeps its answers too. Idempotent on
    the sample. Returns the number of rows written.
    """
    if not rows:
        return 0
    cur = db.conn.executemany(
        "INSERT INTO upstream_answers (sample_id, answer) VALUES (?, ?) "
        "ON CONFLICT (sample_id) DO UPDATE SET answer = excluded.answer",
        rows,
    )
    return max(cur.rowcount, 0)


def upstream_answers(db: sqlite_utils.Database, sample_ids: Sequence[int]) -> dict[int, str]:
    """``sample id -> upstream answer`` for those samples that have one."""
    out: dict[int, str] = {}
    wanted = list(sample_ids)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        for sid, answer in db.execute(
            f"SELECT sample_id, answer FROM upstream_answers WHERE sample_id IN ({marks})", chunk
        ):
            out[int(sid)] = answer
    return out
