"""Grading stored runs, and comparing two graders on the same samples.

Reads go through small private queries here (keyset-paginated, never a whole table); writes go
through ``store.grades.write_grades``, one transaction per batch, so an interrupted grading
keeps what it finished and a rerun grades only the rest.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from reachscope.store import GradeIn
from reachscope.store import grades as store_grades
from reachscope.store import problems as store_problems
from reachscope.store.grades import write_grades
from reachscope.store.models import Run
from reachscope.store.runs import update_run

from .graders import GradeResult, GradeTask, GradingPool

_PAGE = 2000


@dataclass
class GradeSummary:
    """What one ``grade_run`` did.

    Attributes:
        run: the run's ``dataset/label``.
        grader: the grader name stored.
        version: the grader version stored.
        graded: samples graded now.
        verdicts: how many of each verdict among them.
        seconds: wall-clock time.
    """

    run: str
    grader: str
    version: str
    graded: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def default_grader(db: sqlite_utils.Database, run: Run) -> str:
    """``code`` when the run's problems carry tests, else ``math``."""
    meta = store_problems.first_problem_metadata(db, run.id)
    return "code" if meta.get("test") and meta.get("entry_point") else "math"


def count_to_grade(db: sqlite_utils.Database, run_id: int, grader: str, regrade: bool) -> int:
    """Samples of a run that ``grade_run`` would grade."""
    return store_grades.count_to_grade(db, run_id, grader, regrade)


def _problems_of_run(db: sqlite_utils.Database, run_id: int) -> dict[int, dict[str, Any]]:
    return store_problems.problems_of_run(db, run_id)


def _tasks(db: sqlite_utils.Database, run_id: int, grader: str, regrade: bool,
           problems: dict[int, dict[str, Any]]) -> Iterator[GradeTask]:
    """Samples to grade as tasks, read a page at a time (``WHERE id > ?``)."""
    last = 0
    while True:
        rows = store_grades.samples_to_grade(db, run_id, grader, regrade, last, _PAGE)
        if not rows:
            return
        for sid, pid, text in rows:
            problem = problems[int(pid)]
            yield GradeTask(int(sid), text, problem["answer"],
                            {"prompt": problem["prompt"], "metadata": problem["metadata"]})
        last = int(rows[-1][0])


def grade_run(
    db: sqlite_utils.Database, run: Run, pool: GradingPool, regrade: bool = False,
    batch_size: int = 1000, progress: Callable[[int], None] | None = None,
) -> GradeSummary:
    """Grade a run's samples that have no grade from ``pool``'s grader (all with ``regrade``).

    Grades are written in batches of ``batch_size``, one transaction each. The run's
    ``primary_grader`` is set to this grader if it had none.

    Args:
        db: a writable database.
        run: the run.
        pool: a started :class:`GradingPool`.
        regrade: grade every sample again (the new grades replace this grader's old ones).
        batch_size: grades per transaction.
        progress: called with the number of samples just graded, after each result.

    Returns:
        A :class:`GradeSummary`.
    """
    start = time.monotonic()
    summary = GradeSummary(run.ref, pool.grader_name, pool.grader_version)
    problems = _problems_of_run(db, run.id)
    buffer: list[GradeIn] = []

    def flush() -> None:
        with db.atomic():
            write_grades(db, buffer)
        buffer.clear()

    # The task generator reads pages from the database: it must be consumed in this thread
    # (imap_unordered does), and the grades of a page are written after it was read.
    results: Iterator[GradeResult] = pool.imap_unordered(
        _tasks(db, run.id, pool.grader_name, regrade, problems)
    )
    for r in results:
        buffer.append(GradeIn(r.key, pool.grader_name, r.verdict, r.answer, r.detail,
                              pool.grader_version))
        summary.graded += 1
        summary.verdicts[r.verdict] += 1
        if len(buffer) >= batch_size:
            flush()
        if progress is not None:
            progress(1)
    if buffer:
        flush()
    if run.primary_grader is None:
        with db.atomic():
            update_run(db, run.id, primary_grader=pool.grader_name)
    summary.seconds = time.monotonic() - start
    return summary


@dataclass
class Disagreement:
    """A sample that two graders judge differently (correct vs not correct)."""

    sample_id: int
    problem_idx: int
    sample_idx: int
    reference: str | None
    verdict_a: str
    answer_a: str | None
    verdict_b: str
    answer_b: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Audit:
    """Two graders compared on one run."""

    run: str
    grader_a: str
    grader_b: str
    both: int
    disagreements: list[Disagreement]


def audit_run(db: sqlite_utils.Database, run: Run, grader_a: str, grader_b: str,
              limit: int | None = None) -> Audit:
    """Samples of a run graded by both graders where one says correct and the other does not.

    Args:
        db: the database.
        run: the run.
        grader_a: first grader name (for example ``upstream``).
        grader_b: second grader name (for example ``math``).
        limit: at most this many disagreements (all by default).
    """
    both, found = store_grades.grader_disagreements(db, run.id, grader_a, grader_b, limit)
    rows = [Disagreement(*r) for r in found]
    return Audit(run.ref, grader_a, grader_b, both, rows)
