"""Problems: storing a dataset's problems and reading them back (with per-run counts)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from .db import StoreError
from .models import ProblemIn


@dataclass
class ProblemRow:
    """A stored problem."""

    id: int
    dataset: str
    idx: int
    prompt: str | None
    answer: str | None
    metadata: dict[str, Any]


@dataclass
class ProblemLine:
    """One problem with (n, c) per run, for the Problems table."""

    id: int
    idx: int
    prompt: str | None
    answer: str | None
    metadata: dict[str, Any]
    counts: dict[int, tuple[int, int]] = field(default_factory=dict)  # run id -> (n, c)

    def meta_str(self, key: str) -> str:
        value = self.metadata.get(key)
        return "" if value is None else str(value)


def upsert_problems(
    db: sqlite_utils.Database, dataset: str, problems: Sequence[ProblemIn]
) -> list[int]:
    """Store problems of a dataset (matched by content hash) and return their ids, in order.

    A problem already stored keeps its row; missing answer or metadata are filled in.
    """
    ids: list[int] = []
    for p in problems:
        h = p.hash
        row = db.execute(
            "SELECT id, answer, metadata FROM problems WHERE dataset = ? AND hash = ?", [dataset, h]
        ).fetchone()
        if row is None:
            cur = db.execute(
                "INSERT INTO problems (dataset, idx, prompt, answer, metadata, hash) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [dataset, p.idx, p.prompt, p.answer, json.dumps(p.metadata, sort_keys=True), h],
            )
            ids.append(int(cur.lastrowid))  # type: ignore[arg-type]
            continue
        pid, answer, metadata = row
        if (answer is None and p.answer is not None) or (metadata == "{}" and p.metadata):
            db.execute(
                "UPDATE problems SET answer = coalesce(answer, ?), metadata = ? WHERE id = ?",
                [
                    p.answer,
                    json.dumps(p.metadata, sort_keys=True) if metadata == "{}" else metadata,
                    pid,
                ],
            )
        ids.append(int(pid))
    return ids


def problem_ids_by_index(db: sqlite_utils.Database, dataset: str) -> dict[int, int]:
    """Map dataset index -> problem id (the first stored problem with that index)."""
    out: dict[int, int] = {}
    for pid, idx in db.execute(
        "SELECT id, idx FROM problems WHERE dataset = ? ORDER BY id", [dataset]
    ):
        out.setdefault(int(idx), int(pid))
    return out


def problems_of(db: sqlite_utils.Database, problem_ids: list[int] | None = None,
                dataset: str | None = None) -> dict[int, ProblemRow]:
    """Problems by id (given ids, or all of a dataset)."""
    if problem_ids is not None:
        rows: list[Any] = []
        for i in range(0, len(problem_ids), 900):
            chunk = problem_ids[i : i + 900]
            rows += db.execute(
                "SELECT id, dataset, idx, prompt, answer, metadata FROM problems WHERE id IN "
                f"({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
    elif dataset is not None:
        rows = db.execute(
            "SELECT id, dataset, idx, prompt, answer, metadata FROM problems WHERE dataset = ?",
            [dataset],
        ).fetchall()
    else:
        raise StoreError("problems_of: give problem ids or a dataset")
    return {
        int(r[0]): ProblemRow(int(r[0]), r[1], int(r[2]), r[3], r[4], json.loads(r[5] or "{}"))
        for r in rows
    }


def problem_lines(db: sqlite_utils.Database, dataset: str,
                  runs: list[tuple[int, str]]) -> list[ProblemLine]:
    """Problems of a dataset that any of ``runs`` (run id, grader) has counts for, with counts."""
    lines: dict[int, ProblemLine] = {}
    counts: dict[int, dict[int, tuple[int, int]]] = {}
    for run_id, grader in runs:
        for pid, n, c in db.execute(
            "SELECT problem_id, n, c FROM counts WHERE run_id = ? AND grader = ? AND n > 0",
            [run_id, grader],
        ):
            counts.setdefault(int(pid), {})[run_id] = (int(n), int(c))
    for pid, idx, prompt, answer, metadata in db.execute(
        "SELECT id, idx, prompt, answer, metadata FROM problems WHERE dataset = ? ORDER BY idx",
        [dataset],
    ):
        if pid in counts:
            lines[pid] = ProblemLine(int(pid), int(idx), prompt, answer,
                                     json.loads(metadata or "{}"), counts[pid])
    return list(lines.values())


def first_problem_metadata(db: sqlite_utils.Database, run_id: int) -> dict[str, Any]:
    """Metadata of the problem of a run's first stored sample (``{}`` for a run without any)."""
    row = db.execute(
        "SELECT p.metadata FROM samples s JOIN problems p ON p.id = s.problem_id "
        "WHERE s.run_id = ? LIMIT 1", [run_id],
    ).fetchone()
    return json.loads(row[0]) if row and row[0] else {}


def problems_of_run(db: sqlite_utils.Database, run_id: int) -> dict[int, dict[str, Any]]:
    """``problem id -> {prompt, answer, metadata}`` of the problems a run has samples of."""
    out = {}
    for pid, prompt, answer, metadata in db.execute(
        "SELECT id, prompt, answer, metadata FROM problems WHERE id IN "
        "(SELECT DISTINCT problem_id FROM samples WHERE run_id = ?)", [run_id],
    ):
        out[int(pid)] = {"prompt": prompt, "answer": answer,
                         "metadata": json.loads(metadata or "{}")}
    return out
