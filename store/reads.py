"""Read queries. None of them loads a whole samples table: aggregates come from `counts`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .db import StoreError
from .models import Run


@dataclass
class RunSummary:
    """A run with its sizes, for listings."""

    run: Run
    problems: int
    samples: int


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


def list_runs(db: sqlite_utils.Database, dataset: str | None = None) -> list[Run]:
    """All runs (optionally of one dataset), oldest first."""
    sql = "SELECT * FROM runs"
    args: list[Any] = []
    if dataset is not None:
        sql += " WHERE dataset = ?"
        args.append(dataset)
    cur = db.execute(sql + " ORDER BY id", args)
    cols = [d[0] for d in cur.description]
    return [Run.from_row(dict(zip(cols, r))) for r in cur.fetchall()]


def run_summaries(db: sqlite_utils.Database) -> list[RunSummary]:
    """Runs with problem and sample counts (aggregate-only runs count from `counts`)."""
    samples = dict(db.execute("SELECT run_id, count(*) FROM samples GROUP BY run_id").fetchall())
    problems = dict(
        db.execute(
            "SELECT run_id, count(DISTINCT problem_id) FROM counts GROUP BY run_id"
        ).fetchall()
    )
    sample_problems = dict(
        db.execute(
            "SELECT run_id, count(*) FROM (SELECT DISTINCT run_id, problem_id FROM samples) "
            "GROUP BY run_id"
        ).fetchall()
    )
    out = []
    for run in list_runs(db):
        n_samples = samples.get(run.id, 0)
        if run.aggregate_only:
            row = db.execute(
                "SELECT coalesce(sum(n), 0) FROM counts WHERE run_id = ? AND grader = ?",
                [run.id, run.primary_grader],
            ).fetchone()
            n_samples = int(row[0])
        out.append(
            RunSummary(
                run=run,
                problems=max(problems.get(run.id, 0), sample_problems.get(run.id, 0)),
                samples=n_samples,
            )
        )
    return out


def get_run(db: sqlite_utils.Database, ref: str) -> Run:
    """Resolve a run by ``label``, ``dataset/label`` or numeric id.

    Raises:
        StoreError: no such run, or a bare label that names runs on several datasets.
    """
    runs = list_runs(db)
    if "/" in ref:
        dataset, label = ref.rsplit("/", 1)
        hits = [r for r in runs if r.dataset == dataset and r.label == label]
    else:
        hits = [r for r in runs if r.label == ref]
        if not hits and ref.isdigit():
            hits = [r for r in runs if r.id == int(ref)]
    if not hits:
        known = ", ".join(r.ref for r in runs) or "none"
        raise StoreError(f"no run {ref!r} (runs: {known})")
    if len(hits) > 1:
        raise StoreError(
            f"run label {ref!r} is ambiguous; name one of: {', '.join(r.ref for r in hits)}"
        )
    return hits[0]


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


def run_counts(db: sqlite_utils.Database, run_id: int, grader: str) -> dict[int, tuple[int, int]]:
    """``problem_id -> (n, c)`` for one run and grader."""
    return {
        int(pid): (int(n), int(c))
        for pid, n, c in db.execute(
            "SELECT problem_id, n, c FROM counts WHERE run_id = ? AND grader = ? AND n > 0",
            [run_id, grader],
        )
    }


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


def annotations_of(db: sqlite_utils.Database, sample_id: int) -> list[dict[str, Any]]:
    """Annotations on a sample, oldest first."""
    cur = db.execute(
        "SELECT id, label, note, created_at FROM annotations WHERE sample_id = ? ORDER BY id",
        [sample_id],
    )
    return [dict(zip(("id", "label", "note", "created_at"), r)) for r in cur.fetchall()]


def imported_hashes(db: sqlite_utils.Database, run_id: int) -> set[str]:
    """Content hashes of the files already imported into a run."""
    return {r[0] for r in db.execute("SELECT sha256 FROM imports WHERE run_id = ?", [run_id])}


def next_sample_index(db: sqlite_utils.Database, run_id: int) -> dict[int, int]:
    """``problem_id -> 1 + highest stored sample index`` for a run."""
    return {
        int(p): int(m) + 1
        for p, m in db.execute(
            "SELECT problem_id, max(sample_idx) FROM samples WHERE run_id = ? GROUP BY problem_id",
            [run_id],
        )
    }
