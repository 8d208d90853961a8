"""Writes: batched, transactional, idempotent on natural keys."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

import sqlite_utils

from .db import StoreError
from .models import GradeIn, ProblemIn, RunSpec, SampleIn
from .schema import VERDICTS


def now() -> str:
    """UTC timestamp in ISO 8601, as stored."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


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


def get_or_create_run(db: sqlite_utils.Database, spec: RunSpec) -> tuple[int, bool]:
    """Return ``(run_id, created)`` for ``(spec.dataset, spec.label)``, creating the run if new."""
    row = db.execute(
        "SELECT id FROM runs WHERE dataset = ? AND label = ?", [spec.dataset, spec.label]
    ).fetchone()
    if row is not None:
        return int(row[0]), False
    ts = now()
    cur = db.execute(
        "INSERT INTO runs (label, dataset, model, revision, backend, prompt_template, params, "
        "n_target, seeds, status, aggregate_only, primary_grader, created_at, updated_at, "
        "provenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            spec.label,
            spec.dataset,
            spec.model,
            spec.revision,
            spec.backend,
            spec.prompt_template,
            json.dumps(spec.params, sort_keys=True),
            spec.n_target,
            json.dumps(spec.seeds),
            spec.status,
            int(spec.aggregate_only),
            spec.primary_grader,
            ts,
            ts,
            json.dumps(spec.provenance, sort_keys=True),
        ],
    )
    return int(cur.lastrowid), True  # type: ignore[arg-type]


def update_run(db: sqlite_utils.Database, run_id: int, **fields: object) -> None:
    """Update run columns; dict/list values are stored as JSON. ``updated_at`` is always set."""
    allowed = {
        "model", "revision", "backend", "prompt_template", "params", "n_target", "seeds",
        "status", "primary_grader", "finished_at", "provenance", "aggregate_only",
    }
    bad = set(fields) - allowed
    if bad:
        raise StoreError(f"runs: unknown field(s) {', '.join(sorted(bad))}")
    values = {k: json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v
              for k, v in fields.items()}
    values["updated_at"] = now()
    sets = ", ".join(f"{k} = ?" for k in values)
    db.execute(f"UPDATE runs SET {sets} WHERE id = ?", [*values.values(), run_id])


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


def record_import(
    db: sqlite_utils.Database, run_id: int, sha256: str, path: str, records: int
) -> None:
    """Remember that a file (by content hash) was imported into a run."""
    db.execute(
        "INSERT INTO imports (run_id, sha256, path, records, imported_at) VALUES (?, ?, ?, ?, ?)",
        [run_id, sha256, path, records, now()],
    )


def add_annotation(db: sqlite_utils.Database, sample_id: int, label: str, note: str = "") -> int:
    """Store a label (and free note) on a sample; returns the annotation id."""
    if not label.strip():
        raise StoreError("annotation: label must not be empty")
    with db.atomic():
        cur = db.execute(
            "INSERT INTO annotations (sample_id, label, note, created_at) VALUES (?, ?, ?, ?)",
            [sample_id, label.strip(), note, now()],
        )
    return int(cur.lastrowid)  # type: ignore[arg-type]
