"""maj@k kept in the store (issue 11): filled after clustering, read by the report.

An exact maj@k (`answers.maj_at_k`) costs milliseconds per (problem, k), so a report over a
thousand problems would spend seconds on it. After clustering (`answer_clusters.cluster_pending`)
`fill_vote_cache` computes it for every (run, problem) of the grader whose answer counts have no
cached values, on the problem's k grid (`metrics.log2_ks` of its n); the store's triggers drop a
problem's values when its answer counts change. `maj_matrix` reads them and computes only what
is missing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sqlite_utils
from reachscope.store import answers as store_answers
from reachscope.store import votes as store_votes

from .answers import AnswerClusters, maj_at_k
from .metrics import FloatArray, log2_ks

#: Problems computed between writes: a write is short (a sampler may be writing too) and an
#: interrupted fill keeps what it finished.
CHUNK = 100


def clusters_of(rows: Sequence[store_answers.ClusterCount]) -> AnswerClusters:
    """One problem's `AnswerClusters` from its stored cluster counts.

    A cluster is correct when the grader accepted any of its samples; the no-answer row counts
    apart.
    """
    named = [r for r in rows if r.answer != store_answers.NO_ANSWER]
    return AnswerClusters(tuple(r.n for r in named), tuple(r.c > 0 for r in named),
                          sum(r.n for r in rows if r.answer == store_answers.NO_ANSWER))


def counts_by_problem(db: sqlite_utils.Database, run_id: int,
                      grader: str) -> dict[int, list[store_answers.ClusterCount]]:
    """A run's stored cluster counts, grouped by problem."""
    out: dict[int, list[store_answers.ClusterCount]] = {}
    for row in store_answers.cluster_counts(db, run_id, grader):
        out.setdefault(row.problem_id, []).append(row)
    return out


@dataclass
class VoteCacheFill:
    """What one `fill_vote_cache` did: problems and values computed, seconds."""

    grader: str
    problems: int = 0
    values: int = 0
    seconds: float = 0.0


def fill_vote_cache(db: sqlite_utils.Database, grader: str,
                    run_ids: list[int] | None = None) -> VoteCacheFill:
    """Compute and store maj@k for every (run, problem) of ``grader`` that has none cached.

    Values are computed outside a transaction and written in a short one that then re-reads the
    counts: a problem whose counts moved meanwhile (a sampler grading into the same file) gets
    its values dropped again, so the cache never holds stale ones. Idempotent.

    Args:
        db: a writable database (a file without the cache table is left alone).
        grader: whose answer counts.
        run_ids: only these runs (default every run with answers of that grader).
    """
    start = time.monotonic()
    done = VoteCacheFill(grader)
    for run_id, pids in store_votes.uncached_problems(db, grader, run_ids).items():
        for i in range(0, len(pids), CHUNK):
            part = pids[i:i + CHUNK]
            before = counts_by_problem(db, run_id, grader)
            rows: list[tuple[int, int, int, float]] = []
            for pid in part:
                clusters = clusters_of(before.get(pid, []))
                rows += [(run_id, pid, k, maj_at_k(clusters, k)) for k in log2_ks(clusters.n)]
            with db.atomic():
                store_votes.write_maj(db, grader, rows)
                now = counts_by_problem(db, run_id, grader)
                stale = [p for p in part if now.get(p) != before.get(p)]
                if stale:
                    store_votes.delete_maj(db, grader, run_id, stale)
            dropped = set(stale)
            done.problems += len(part) - len(dropped)
            done.values += sum(1 for r in rows if r[1] not in dropped)
    done.seconds = time.monotonic() - start
    return done


@dataclass
class MajMatrix:
    """Per-problem maj@k ``[P, len(ks)]`` (NaN where k > n), and how many values came from the
    store's cache and how many were computed now."""

    values: FloatArray
    cached: int
    computed: int


def maj_matrix(db: sqlite_utils.Database, run_id: int, grader: str, problem_ids: Sequence[int],
               clusters: Sequence[AnswerClusters], ks: Sequence[int]) -> MajMatrix:
    """A run's maj@k on ``ks`` for these problems (aligned with ``clusters``), cached values
    first; the rest computed (not stored: the reader may be read-only)."""
    if any(k < 1 for k in ks):
        raise ValueError("k must be >= 1")
    out = np.full((len(clusters), len(ks)), math.nan)
    rows = store_votes.cached_maj(db, run_id, grader, ks)
    if rows:
        pos = {p: i for i, p in enumerate(problem_ids)}
        col = {k: j for j, k in enumerate(ks)}
        at = [(pos[p], col[k], v) for p, k, v in rows if p in pos]
        if at:
            i, j, v = zip(*at)
            out[list(i), list(j)] = v
    n = np.array([c.n for c in clusters], dtype=np.int64)
    reach = np.asarray(ks, dtype=np.int64)[None, :] <= n[:, None]
    out[~reach] = math.nan
    missing = np.isnan(out) & reach
    for i, j in zip(*np.nonzero(missing)):
        out[i, j] = maj_at_k(clusters[i], int(ks[j]))
    computed = int(missing.sum())
    return MajMatrix(out, int(reach.sum()) - computed, computed)
