"""The entity modules (runs, samples, grades, problems) that own every query."""

from __future__ import annotations

import math
from pathlib import Path

from reachscope.store import (
    GradeIn,
    ProblemIn,
    RunSpec,
    SampleIn,
    grades,
    open_db,
    problems,
    runs,
    samples,
)
from reachscope.store.runs import run_summaries, run_summary


def _db(tmp_path: Path):
    db = open_db(tmp_path / "t.db")
    with db.atomic():
        (pid,) = problems.upsert_problems(db, "d", [ProblemIn(0, "1+1?", "2")])
        run_id, _ = runs.get_or_create_run(db, RunSpec("base", "d", model="m"))
        samples.write_samples(db, run_id, [SampleIn(pid, i, f"t{i}") for i in range(5)])
    return db, run_id, pid


def test_ungraded_samples_pages_by_id_and_skips_graded(tmp_path: Path) -> None:
    db, run_id, _ = _db(tmp_path)
    first = samples.ungraded_samples(db, run_id, "math", limit=2)
    assert [t for _, t, _ in first] == ["t0", "t1"]
    with db.atomic():
        grades.write_grades(db, [GradeIn(first[0][0], "math", "correct", "2")])
    rest = samples.ungraded_samples(db, run_id, "math", after=first[0][0])
    assert [t for _, t, _ in rest] == ["t1", "t2", "t3", "t4"]
    assert grades.count_to_grade(db, run_id, "math", regrade=False) == 4
    assert grades.count_to_grade(db, run_id, "math", regrade=True) == 5


def test_one_run_summary_type(tmp_path: Path) -> None:
    db, run_id, _ = _db(tmp_path)
    with db.atomic():
        ids = [sid for sid, _, _ in samples.ungraded_samples(db, run_id, "math")]
        grades.write_grades(db, [GradeIn(s, "math", "correct" if i < 2 else "incorrect", "x")
                                 for i, s in enumerate(ids)])
    listed = run_summaries(db)[0]
    one = run_summary(db, run_id, "math")
    assert type(listed) is type(one) is runs.RunSummary
    assert (listed.problems, listed.samples) == (1, 5)
    assert (one.run.label, one.problems, one.n_max, one.samples) == ("base", 1, 5, 5)
    assert math.isclose(one.mean_accuracy, 0.4)
    assert math.isnan(runs.RunSummary(one.run, 0, 0).mean_accuracy)


def test_sample_index_stats_and_run_fields(tmp_path: Path) -> None:
    db, run_id, pid = _db(tmp_path)
    assert samples.sample_index_stats(db, run_id) == {pid: (5, 4)}
    assert samples.sample_indices(db, run_id, pid) == {0, 1, 2, 3, 4}
    assert runs.run_fields(db, run_id, "status")["status"]
