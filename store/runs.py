"""Runs: creating, updating, listing and resolving runs, and their progress and summaries."""

from __future__ import annotations

import json
import math
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from .counts import sample_totals
from .db import StoreError
from .models import Run, RunSpec

#: A running run whose heartbeat (``updated_at``, set every few seconds by its writer) is older
#: than this is ``stale``: its writer is gone.
STALE_AFTER_S = 120.0


def now() -> str:
    """UTC timestamp in ISO 8601, as stored."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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


def get_run(db: sqlite_utils.Database, ref: str) -> Run:
    """Resolve a run by ``label``, ``dataset/label`` or numeric id.

    Raises:
        StoreError: no such run, or a ref that names several runs (a bare label on several
            datasets, or a dataset/label that two runs read as).
    """
    runs = list_runs(db)
    # ``dataset/label`` first, compared whole: a dataset or a label may hold a "/" itself
    # (``lab/v2``, ``rl[/]``), so no one split of the ref is right for every name.
    hits = [r for r in runs if r.ref == ref]
    if not hits:
        hits = [r for r in runs if r.label == ref]
    if not hits and ref.isdigit():
        hits = [r for r in runs if r.id == int(ref)]
    if not hits:
        known = ", ".join(r.ref for r in runs) or "none"
        raise StoreError(f"no run {ref!r} (runs: {known})")
    if len(hits) > 1:
        raise StoreError(
            f"run {ref!r} is ambiguous; name one of: "
            + ", ".join(f"{r.ref} (id {r.id})" for r in hits)
        )
    return hits[0]


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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def writer_state(status: str, updated_at: str | None, writer: dict[str, Any] | None,
                 at: datetime | None = None) -> str:
    """A run's status as shown: ``stale`` for a ``running`` run whose writer is gone.

    Gone means: on this host and its pid is not alive, or (any host) no heartbeat for
    :data:`STALE_AFTER_S` seconds. Other statuses are returned as stored.

    Args:
        status: the stored status.
        updated_at: the run's last heartbeat (ISO 8601).
        writer: ``{"pid", "host"}`` of the process that writes the run (``provenance["writer"]``).
        at: the time to judge at (default: now).

    Returns:
        ``stale`` or the stored status.
    """
    if status != "running":
        return status
    pid, host = (writer or {}).get("pid"), (writer or {}).get("host")
    if isinstance(pid, int) and host == socket.gethostname() and not _pid_alive(pid):
        return "stale"
    try:
        beat = datetime.fromisoformat(updated_at or "")
    except (TypeError, ValueError):
        return status
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)
    age = ((at or datetime.now(UTC)) - beat).total_seconds()
    return "stale" if age > STALE_AFTER_S else status


def run_state(run: Run, at: datetime | None = None) -> str:
    """:func:`writer_state` of a stored run: what `reachscope runs` and the app show as status."""
    return writer_state(run.status, run.updated_at, run.provenance.get("writer"), at)


@dataclass
class RunProgress:
    """How far a run has got: samples stored and graded against its target."""

    run_id: int
    label: str
    status: str
    problems: int
    n_target: int | None
    samples: int
    graded: int
    correct: int
    grader: str | None
    #: The last heartbeat and the writer's pid and host, to tell a ``stale`` run (:attr:`state`).
    updated_at: str | None = None
    writer: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> int | None:
        return None if self.n_target is None else self.n_target * self.problems

    @property
    def state(self) -> str:
        """The status as shown, judged now (a run goes ``stale`` without any write)."""
        return writer_state(self.status, self.updated_at, self.writer)


def run_progress(db: sqlite_utils.Database, run_id: int) -> RunProgress:
    """Samples stored and graded (by the run's primary grader, else its first) for one run."""
    label, status, n_target, primary, aggregate, updated_at, provenance = db.execute(
        "SELECT label, status, n_target, primary_grader, aggregate_only, updated_at, provenance "
        "FROM runs WHERE id = ?",
        [run_id],
    ).fetchone()
    graders = dict(
        (g, (int(n or 0), int(c or 0), int(p)))
        for g, n, c, p in db.execute(
            "SELECT grader, sum(n), sum(c), count(*) FROM counts WHERE run_id = ? GROUP BY grader",
            [run_id],
        )
    )
    grader = primary if primary in graders else (sorted(graders)[0] if graders else None)
    graded, correct, counted = graders.get(grader, (0, 0, 0)) if grader else (0, 0, 0)
    samples = graded if aggregate else sample_totals(db, [run_id]).get(run_id, (0, 0))[0]
    problems = int(db.execute(
        "SELECT count(*) FROM problems WHERE dataset = (SELECT dataset FROM runs WHERE id = ?)",
        [run_id],
    ).fetchone()[0])
    writer = json.loads(provenance or "{}").get("writer") or {}
    return RunProgress(run_id, label, status, max(problems, counted), n_target, samples, graded,
                       correct, grader, updated_at, writer)


def run_statuses(db: sqlite_utils.Database) -> dict[int, tuple[str, str]]:
    """``run id -> (status, updated_at)`` for every run."""
    return {int(i): (s, u) for i, s, u in db.execute("SELECT id, status, updated_at FROM runs")}


@dataclass
class RunSummary:
    """A run in brief, the one summary type for listings and the Compare screen.

    ``problems`` and ``samples`` are the run's sizes; ``n_min``, ``n_max`` and ``mean_accuracy``
    (mean c/n, i.e. pass@1) come from one grader's counts where a grader was given.
    """

    run: Run
    problems: int
    samples: int
    n_min: int = 0
    n_max: int = 0
    mean_accuracy: float = math.nan


def run_summaries(db: sqlite_utils.Database) -> list[RunSummary]:
    """Runs with problem and sample counts (aggregate-only runs count from `counts`); reads
    `counts` and `sample_counts`, never the samples."""
    totals = sample_totals(db)
    problems = dict(
        db.execute(
            "SELECT run_id, count(DISTINCT problem_id) FROM counts GROUP BY run_id"
        ).fetchall()
    )
    out = []
    for run in list_runs(db):
        n_samples, sample_problems = totals.get(run.id, (0, 0))
        if run.aggregate_only:
            row = db.execute(
                "SELECT coalesce(sum(n), 0) FROM counts WHERE run_id = ? AND grader = ?",
                [run.id, run.primary_grader],
            ).fetchone()
            n_samples = int(row[0])
        out.append(
            RunSummary(
                run=run,
                problems=max(problems.get(run.id, 0), sample_problems),
                samples=n_samples,
            )
        )
    return out


def run_summary(db: sqlite_utils.Database, run_id: int, grader: str) -> RunSummary:
    """Problems graded, min and max n, and mean c/n of one run (one row per problem read)."""
    cur = db.execute("SELECT * FROM runs WHERE id = ?", [run_id])
    row = cur.fetchone()
    if row is None:
        raise StoreError(f"no run with id {run_id}")
    run = Run.from_row(dict(zip([d[0] for d in cur.description], row)))
    problems, n_min, n_max, mean, total = db.execute(
        "SELECT count(*), min(n), max(n), avg(CAST(c AS REAL) / n), coalesce(sum(n), 0) "
        "FROM counts WHERE run_id = ? AND grader = ? AND n > 0",
        [run_id, grader],
    ).fetchone()
    return RunSummary(run, int(problems), int(total), int(n_min or 0), int(n_max or 0),
                      math.nan if mean is None else float(mean))


def run_fields(db: sqlite_utils.Database, run_id: int, *columns: str) -> dict[str, Any]:
    """Raw stored columns of one run (JSON columns still as text).

    Raises:
        StoreError: no such run or an unknown column.
    """
    known = {"params", "status", "n_target", "provenance", "seeds", "primary_grader", "label"}
    bad = set(columns) - known
    if bad or not columns:
        raise StoreError(f"runs: unknown field(s) {', '.join(sorted(bad)) or '(none)'}")
    row = db.execute(f"SELECT {', '.join(columns)} FROM runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        raise StoreError(f"no run with id {run_id}")
    return dict(zip(columns, row))
