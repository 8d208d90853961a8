"""Answer counts: graded samples per (run, problem, grader, extracted answer) and their clusters.

`answer_counts` is kept by triggers on `grades` (store/schema.py, m006); readers never scan
samples. A file that a read-only viewer opened without migrating it lacks the table: the same
rows are grouped from `grades` then (slower, and without clusters).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from .db import has_table

#: The answer stored for samples without an extracted answer.
NO_ANSWER = ""

_SCAN = (
    "(SELECT s.run_id, s.problem_id, g.grader, coalesce(g.answer, '') AS answer, "
    "count(*) AS n, sum(g.verdict = 'correct') AS c, sum(s.finish_reason IS 'length') AS "
    "truncated, sum(g.verdict = 'correct' AND s.finish_reason IS 'length') AS truncated_c, "
    "NULL AS cluster FROM grades g JOIN samples s ON s.id = g.sample_id "
    "WHERE s.run_id = ? AND g.grader = ? "
    "GROUP BY s.run_id, s.problem_id, g.grader, coalesce(g.answer, ''))"
)


@dataclass(frozen=True)
class ClusterCount:
    """Graded samples of one (run, problem) that share an answer cluster.

    Attributes:
        problem_id: the problem.
        answer: the cluster's first member (the exact answer where no cluster is set yet);
            :data:`NO_ANSWER` for the samples without an answer.
        n: samples. c: of them graded correct. truncated: of them stopped for length.
            truncated_c: truncated and correct.
        answers: distinct exact answers in the cluster.
    """

    problem_id: int
    answer: str
    n: int
    c: int
    truncated: int
    truncated_c: int
    answers: int


def _source(db: sqlite_utils.Database) -> tuple[str, bool]:
    """The table (or grouping of grades) to read, and whether it takes (run, grader) args."""
    if has_table(db, "answer_counts"):
        return "answer_counts", False
    return _SCAN, True


def cluster_counts(db: sqlite_utils.Database, run_id: int, grader: str) -> list[ClusterCount]:
    """A run's answer clusters per problem, by problem id, then largest cluster first.

    An answer whose cluster is not set yet counts as its own cluster.
    """
    source, scan = _source(db)
    args = [run_id, grader] * (2 if scan else 1)
    key = f"CASE WHEN answer = '{NO_ANSWER}' THEN '' ELSE coalesce(cluster, answer) END"
    rows = db.execute(
        f"SELECT problem_id, {key} AS k, sum(n), sum(c), sum(truncated), sum(truncated_c), "
        f"count(*) FROM {source} WHERE run_id = ? AND grader = ? AND n > 0 "
        "GROUP BY problem_id, k ORDER BY problem_id, sum(n) DESC, k", args,
    ).fetchall()
    return [ClusterCount(int(p), str(k), int(n), int(c), int(t), int(tc), int(a))
            for p, k, n, c, t, tc, a in rows]


def unclustered_answers(db: sqlite_utils.Database, run_id: int, grader: str) -> int:
    """Distinct answers of a run (summed over problems) whose cluster is not set yet."""
    source, scan = _source(db)
    args = [run_id, grader] * (2 if scan else 1)
    return int(db.execute(
        f"SELECT count(*) FROM {source} WHERE run_id = ? AND grader = ? AND n > 0 "
        f"AND answer <> '{NO_ANSWER}' AND cluster IS NULL", args).fetchone()[0])


@dataclass
class PendingAnswers:
    """One (run, problem)'s answers waiting for a cluster, and the clusters it has.

    Attributes:
        clusters: first members of the existing clusters, largest cluster first.
        pending: answers without a cluster, most samples first (ties by answer).
    """

    run_id: int
    problem_id: int
    clusters: list[str]
    pending: list[str]


def pending_answers(db: sqlite_utils.Database, grader: str,
                    run_ids: list[int] | None = None) -> list[PendingAnswers]:
    """Every (run, problem) of ``grader`` that has answers without a cluster (``run_ids``: only
    those runs). Empty on a file without `answer_counts`."""
    if not has_table(db, "answer_counts"):
        return []
    where = "grader = ? AND n > 0 AND answer <> ''"
    args: list[object] = [grader]
    if run_ids is not None:
        if not run_ids:
            return []
        where += f" AND run_id IN ({','.join('?' * len(run_ids))})"
        args += run_ids
    todo = db.execute(
        f"SELECT run_id, problem_id, answer FROM answer_counts WHERE {where} "
        "AND cluster IS NULL ORDER BY run_id, problem_id, n DESC, answer", args).fetchall()
    groups: dict[tuple[int, int], PendingAnswers] = {}
    for run_id, pid, answer in todo:
        key = (int(run_id), int(pid))
        if key not in groups:
            groups[key] = PendingAnswers(key[0], key[1], [], [])
        groups[key].pending.append(str(answer))
    for run_id, pid, cluster in db.execute(
        f"SELECT run_id, problem_id, cluster FROM answer_counts WHERE {where} "
        "AND cluster IS NOT NULL GROUP BY run_id, problem_id, cluster "
        "ORDER BY run_id, problem_id, sum(n) DESC, cluster", args,
    ):
        group = groups.get((int(run_id), int(pid)))
        if group is not None:
            group.clusters.append(str(cluster))
    return list(groups.values())


def set_clusters(db: sqlite_utils.Database, grader: str,
                 rows: Iterable[tuple[int, int, str, str]]) -> int:
    """Set the cluster of answers: rows of ``(run id, problem id, answer, cluster)``.

    Returns:
        Rows changed.
    """
    cur = db.conn.executemany(
        "UPDATE answer_counts SET cluster = ? WHERE run_id = ? AND problem_id = ? "
        "AND grader = ? AND answer = ?",
        [(cluster, run_id, pid, grader, answer) for run_id, pid, answer, cluster in rows])
    return max(cur.rowcount, 0)


@dataclass(frozen=True)
class AnswerRow:
    """Graded samples of one (run, problem) that share an extracted answer, with its cluster.

    Attributes:
        answer: the exact answer (:data:`NO_ANSWER` for samples without one).
        cluster: the first member of its cluster (None where no cluster is set yet, or on a
            file without `answer_counts`).
        n, c, truncated, truncated_c: as in :class:`ClusterCount`.
    """

    answer: str
    cluster: str | None
    n: int
    c: int
    truncated: int
    truncated_c: int


def answer_rows(db: sqlite_utils.Database, run_id: int, problem_id: int,
                grader: str) -> list[AnswerRow]:
    """One (run, problem)'s graded answers with their clusters, most samples first (one
    problem's rows of `answer_counts`; grouped from its grades on a file without the table)."""
    source, scan = _source(db)
    args = [run_id, grader] * (2 if scan else 1)
    rows = db.execute(
        f"SELECT answer, cluster, n, c, truncated, truncated_c FROM {source} "
        "WHERE run_id = ? AND grader = ? AND problem_id = ? AND n > 0 ORDER BY n DESC, answer",
        [*args, problem_id]).fetchall()
    return [AnswerRow(str(a), None if k is None else str(k), int(n), int(c), int(t), int(tc))
            for a, k, n, c, t, tc in rows]
