"""Scores: the log-likelihood of stored samples under scorer models (``reachscope score``).

One row per (sample, scorer), written in batches and idempotent on that pair, so a resumed
scoring writes each sample once. Reads page by sample id (``WHERE id > ?``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .db import StoreError, has_table
from .runs import now


@dataclass(frozen=True)
class ScoreIn:
    """One sample's score, to write.

    Attributes:
        sample_id: the sample.
        n_tokens: completion tokens scored (scorer tokens), None where it failed.
        sum_logprob: sum of their log-probabilities (natural log).
        mean_logprob: ``sum_logprob / n_tokens`` (None for an empty completion).
        mean_entropy: mean entropy (nats) of the scorer's next-token distribution over those
            positions, None where the backend gives no full distribution.
        error: why the sample could not be scored (the other fields are then None).
    """

    sample_id: int
    n_tokens: int | None
    sum_logprob: float | None
    mean_logprob: float | None
    mean_entropy: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Scorer:
    """A stored scorer."""

    id: int
    name: str
    model: str
    backend: str | None
    provenance: dict[str, Any]


@dataclass(frozen=True)
class ScoredSample:
    """A scored sample as the analyses read it."""

    problem_id: int
    mean_logprob: float
    mean_entropy: float | None
    correct: bool | None


def _scorer(row: tuple[Any, ...]) -> Scorer:
    return Scorer(int(row[0]), str(row[1]), str(row[2]), row[3], json.loads(row[4] or "{}"))


def list_scorers(db: sqlite_utils.Database) -> list[Scorer]:
    """The scorers of a file, oldest first (none in a file never scored)."""
    if not has_table(db, "scorers"):
        return []
    rows = db.execute(
        "SELECT id, name, model, backend, provenance FROM scorers ORDER BY id").fetchall()
    return [_scorer(r) for r in rows]


def get_scorer(db: sqlite_utils.Database, name: str) -> Scorer:
    """The scorer called ``name``.

    Raises:
        StoreError: no such scorer.
    """
    for scorer in list_scorers(db):
        if scorer.name == name:
            return scorer
    known = ", ".join(s.name for s in list_scorers(db)) or "none"
    raise StoreError(f"no scorer {name!r} (scorers: {known})")


def ensure_scorer(db: sqlite_utils.Database, name: str, model: str, backend: str,
                  provenance: dict[str, Any]) -> int:
    """The id of scorer ``name``, created if new.

    Raises:
        StoreError: ``name`` already scores with another model (its scores would mix).
    """
    row = db.execute("SELECT id, model FROM scorers WHERE name = ?", [name]).fetchone()
    if row is not None:
        if row[1] != model:
            raise StoreError(f"scorer {name!r} is model {row[1]!r} in this file, not {model!r}; "
                             "give this model another scorer name")
        return int(row[0])
    cur = db.execute(
        "INSERT INTO scorers (name, model, backend, provenance, created_at) "
        "VALUES (?, ?, ?, ?, ?)", [name, model, backend, json.dumps(provenance), now()])
    return int(cur.lastrowid or 0)


def write_scores(db: sqlite_utils.Database, scorer_id: int, scores: Iterable[ScoreIn]) -> int:
    """Insert or replace scores on (sample, scorer). Call inside ``db.atomic()`` per batch."""
    cur = db.conn.executemany(
        "INSERT OR REPLACE INTO scores (sample_id, scorer_id, n_tokens, sum_logprob, "
        "mean_logprob, mean_entropy, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((s.sample_id, scorer_id, s.n_tokens, s.sum_logprob, s.mean_logprob, s.mean_entropy,
          s.error) for s in scores),
    )
    return max(cur.rowcount, 0)


def ensure_sampler_scorer(db: sqlite_utils.Database, label: str, model: str, backend: str,
                          provenance: dict[str, Any]) -> int:
    """The scorer that holds a run's own log-likelihoods from sampling (``sample --logprobs``).

    Named ``LABEL:sampler`` (``LABEL:sampler-2``... where that name is another model's), so it
    never mixes with a scorer of ``reachscope score``, whose entropies are exact.
    """
    for n in range(1, 1000):
        name = f"{label}:sampler" + (f"-{n}" if n > 1 else "")
        row = db.execute("SELECT model FROM scorers WHERE name = ?", [name]).fetchone()
        if row is None or row[0] == model:
            return ensure_scorer(db, name, model, backend, provenance)
    raise StoreError(f"no free scorer name for {label!r}:sampler")


def write_generated_scores(db: sqlite_utils.Database, run_id: int, scorer_id: int,
                           rows: Iterable[tuple[int, int, str, int, float, float | None]]) -> int:
    """Scores of samples just written, by ``(problem id, sample index, text, tokens, sum
    log-prob, mean entropy)``.

    A score is stored only where the run's sample at that index has that text, so a sample
    kept from an earlier session is never given another generation's score; an existing
    (sample, scorer) row is kept. Call inside the transaction that wrote the samples.
    """
    cur = db.conn.executemany(
        "INSERT OR IGNORE INTO scores (sample_id, scorer_id, n_tokens, sum_logprob, "
        "mean_logprob, mean_entropy, error) SELECT s.id, ?, ?, ?, ?, ?, NULL FROM samples s "
        "WHERE s.run_id = ? AND s.problem_id = ? AND s.sample_idx = ? AND s.text = ?",
        ((scorer_id, n, total, total / n if n else None, entropy, run_id, pid, idx, text)
         for pid, idx, text, n, total, entropy in rows),
    )
    return max(cur.rowcount, 0)


_NOT_SCORED = (" AND NOT EXISTS (SELECT 1 FROM scores c WHERE c.sample_id = s.id "
               "AND c.scorer_id = ?)")


def count_to_score(db: sqlite_utils.Database, run_id: int, scorer_id: int,
                   first: int | None = None) -> int:
    """Samples of a run that the scorer has not scored (with ``first``: of sample index < first)."""
    return int(db.execute(
        f"SELECT count(*) FROM samples s WHERE s.run_id = ? AND s.sample_idx < ?{_NOT_SCORED}",
        [run_id, _index_bound(first), scorer_id]).fetchone()[0])


def _index_bound(first: int | None) -> int:
    return (1 << 62) if first is None else first


def samples_to_score(db: sqlite_utils.Database, run_id: int, scorer_id: int, after: int,
                     limit: int, first: int | None = None) -> list[tuple[int, int, str]]:
    """``(sample id, problem id, text)`` not yet scored, one keyset page (ids above ``after``);
    with ``first``, only samples whose index is below it."""
    return [
        (int(sid), int(pid), str(text))
        for sid, pid, text in db.execute(
            f"SELECT s.id, s.problem_id, s.text FROM samples s WHERE s.run_id = ? AND s.id > ?"
            f" AND s.sample_idx < ?{_NOT_SCORED} ORDER BY s.id LIMIT ?",
            [run_id, after, _index_bound(first), scorer_id, limit])
    ]


def sample_scores(db: sqlite_utils.Database, sample_ids: Iterable[int],
                  scorer_id: int) -> dict[int, ScoreIn]:
    """The stored scores of some samples under one scorer."""
    ids = list(sample_ids)
    out: dict[int, ScoreIn] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        for row in db.execute(
            f"SELECT sample_id, n_tokens, sum_logprob, mean_logprob, mean_entropy, error "
            f"FROM scores WHERE scorer_id = ? AND sample_id IN ({marks})", [scorer_id, *chunk]):
            out[int(row[0])] = ScoreIn(*row)
    return out


def scored_samples(db: sqlite_utils.Database, run_id: int, scorer_id: int,
                   grader: str | None = None, page: int = 20000) -> Iterator[ScoredSample]:
    """A run's scored samples under one scorer (errors left out), with ``grader``'s verdict.

    Read a page at a time by sample id; ``correct`` is None where the grader has not graded.
    """
    if not has_table(db, "scores"):
        return
    last = 0
    while True:
        rows = db.execute(
            "SELECT s.id, s.problem_id, c.mean_logprob, c.mean_entropy, g.verdict "
            "FROM samples s JOIN scores c ON c.sample_id = s.id AND c.scorer_id = ? "
            "LEFT JOIN grades g ON g.sample_id = s.id AND g.grader = ? "
            "WHERE s.run_id = ? AND s.id > ? AND c.mean_logprob IS NOT NULL "
            "ORDER BY s.id LIMIT ?", [scorer_id, grader, run_id, last, page]).fetchall()
        if not rows:
            return
        for _, pid, mean, entropy, verdict in rows:
            yield ScoredSample(int(pid), float(mean), entropy,
                               None if verdict is None else verdict == "correct")
        last = int(rows[-1][0])


def score_counts(db: sqlite_utils.Database, run_id: int) -> dict[str, tuple[int, int]]:
    """``scorer name -> (scored, failed)`` for one run."""
    if not has_table(db, "scores"):
        return {}
    rows = db.execute(
        "SELECT r.name, count(*), sum(c.error IS NOT NULL) FROM scores c "
        "JOIN scorers r ON r.id = c.scorer_id JOIN samples s ON s.id = c.sample_id "
        "WHERE s.run_id = ? GROUP BY r.name ORDER BY r.name", [run_id]).fetchall()
    return {str(name): (int(n), int(bad or 0)) for name, n, bad in rows}


def require_scores_table(db: sqlite_utils.Database) -> None:
    """Raise where a (read-only, unmigrated) file has no scores yet."""
    if not has_table(db, "scores"):
        raise StoreError("this database has no scores yet: run `reachscope score` on it")
