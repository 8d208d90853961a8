"""Read-only queries for the app's browsing screens. Like reads.py, nothing here scans samples
texts: problem tables come from `counts`, sample lists carry lengths, texts load one problem at
a time."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils


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


@dataclass
class AnswerGroup:
    """Samples of one (run, problem) that share an extracted answer."""

    answer: str | None
    count: int
    correct: int

    @property
    def verdict(self) -> str:
        return "correct" if self.correct == self.count else "incorrect" if not self.correct \
            else "mixed"


@dataclass
class RunSummary:
    """A run's counts in brief: problems graded, the range of n, and mean c/n (= pass@1)."""

    problems: int
    n_min: int
    n_max: int
    mean_accuracy: float


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

    @property
    def target(self) -> int | None:
        return None if self.n_target is None else self.n_target * self.problems


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


def run_summary(db: sqlite_utils.Database, run_id: int, grader: str) -> RunSummary:
    """Problems graded, min and max n, and mean c/n of one run (one row per problem read)."""
    problems, n_min, n_max, mean = db.execute(
        "SELECT count(*), min(n), max(n), avg(CAST(c AS REAL) / n) FROM counts "
        "WHERE run_id = ? AND grader = ? AND n > 0",
        [run_id, grader],
    ).fetchone()
    return RunSummary(int(problems), int(n_min or 0), int(n_max or 0),
                      float("nan") if mean is None else float(mean))


def answer_groups(db: sqlite_utils.Database, run_id: int, problem_id: int,
                  grader: str) -> list[AnswerGroup]:
    """A run's solution set on one problem grouped by extracted answer, largest group first."""
    rows = db.execute(
        "SELECT g.answer, count(*), sum(g.verdict = 'correct') FROM samples s "
        "JOIN grades g ON g.sample_id = s.id AND g.grader = ? "
        "WHERE s.run_id = ? AND s.problem_id = ? GROUP BY g.answer "
        "ORDER BY count(*) DESC, g.answer",
        [grader, run_id, problem_id],
    ).fetchall()
    return [AnswerGroup(a, int(n), int(c)) for a, n, c in rows]


def sample_texts(db: sqlite_utils.Database, run_id: int, problem_id: int) -> dict[int, str]:
    """``sample id -> text`` for every sample of one (run, problem)."""
    return {
        int(sid): str(text)
        for sid, text in db.execute(
            "SELECT id, text FROM samples WHERE run_id = ? AND problem_id = ? ORDER BY sample_idx",
            [run_id, problem_id],
        )
    }


def sample_info(db: sqlite_utils.Database, sample_id: int,
                grader: str | None) -> dict[str, Any] | None:
    """One sample's columns (without text) and the given grader's verdict and answer."""
    cur = db.execute(
        "SELECT s.id, s.run_id, s.problem_id, s.sample_idx, s.n_tokens, s.finish_reason, "
        "length(s.text) AS length, g.verdict, g.answer FROM samples s "
        "LEFT JOIN grades g ON g.sample_id = s.id AND g.grader = ? WHERE s.id = ?",
        [grader, sample_id],
    )
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row))


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


def last_sample_id(db: sqlite_utils.Database) -> int:
    """The highest sample id (moves whenever any run stores a sample)."""
    return int(db.execute("SELECT coalesce(max(id), 0) FROM samples").fetchone()[0])


def run_progress(db: sqlite_utils.Database, run_id: int) -> RunProgress:
    """Samples stored and graded (by the run's primary grader, else its first) for one run."""
    label, status, n_target, primary, aggregate = db.execute(
        "SELECT label, status, n_target, primary_grader, aggregate_only FROM runs WHERE id = ?",
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
    if aggregate:
        samples = graded
    else:
        samples = int(db.execute(
            "SELECT count(*) FROM samples WHERE run_id = ?", [run_id]).fetchone()[0])
    problems = int(db.execute(
        "SELECT count(*) FROM problems WHERE dataset = (SELECT dataset FROM runs WHERE id = ?)",
        [run_id],
    ).fetchone()[0])
    return RunProgress(run_id, label, status, max(problems, counted), n_target, samples, graded,
                       correct, grader)


def run_statuses(db: sqlite_utils.Database) -> dict[int, tuple[str, str]]:
    """``run id -> (status, updated_at)`` for every run."""
    return {int(i): (s, u) for i, s, u in db.execute("SELECT id, status, updated_at FROM runs")}
