"""Clustering stored answers with the grader's equivalence (real graders, real worker pool)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils
from reachscope.core.answer_clusters import cluster_pending
from reachscope.core.answers import cluster_answers
from reachscope.core.graders import GradingPool
from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.answers import cluster_counts, pending_answers, unclustered_answers
from reachscope.store.grades import write_grades
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run
from reachscope.store.samples import write_samples


def add(db: sqlite_utils.Database, run_id: int, pid: int, start: int,
        answers: list[str | None], grader: str = "math") -> None:
    with db.atomic():
        write_samples(db, run_id, [SampleIn(pid, start + j, f"s{j}")
                                   for j in range(len(answers))])
        ids = dict(db.execute("SELECT sample_idx, id FROM samples WHERE run_id = ? AND "
                              "problem_id = ?", [run_id, pid]).fetchall())
        write_grades(db, [GradeIn(ids[start + j], grader, "incorrect" if a else "no_answer", a)
                          for j, a in enumerate(answers)])


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    db = open_db(tmp_path / "t.db")
    with db.atomic():
        upsert_problems(db, "d", [ProblemIn(i, f"p{i}", "7") for i in range(2)])
        get_or_create_run(db, RunSpec("base", "d", primary_grader="math"))
    return db


def clusters_of(db: sqlite_utils.Database, pid: int) -> dict[str, str]:
    return dict(db.execute("SELECT answer, cluster FROM answer_counts WHERE problem_id = ? "
                           "AND answer <> ''", [pid]).fetchall())


def test_math_equivalence_merges_spellings(db: sqlite_utils.Database) -> None:
    add(db, 1, 1, 0, ["1/2", "1/2", "0.5", "\\frac12", "3", None, "9999.857142857143",
                      "9999\\frac{6}{7}", "03"])
    add(db, 1, 2, 0, ["0.5", "2"])
    with GradingPool("math", workers=1) as pool:
        done = cluster_pending(db, pool)
        assert done.problems == 2 and done.answers == 9
        assert clusters_of(db, 1) == {
            "1/2": "1/2", "0.5": "1/2", "\\frac12": "1/2", "3": "03", "03": "03",
            "9999.857142857143": "9999.857142857143",
            "9999\\frac{6}{7}": "9999.857142857143"}
        assert clusters_of(db, 2) == {"0.5": "0.5", "2": "2"}
        assert cluster_pending(db, pool).answers == 0  # idempotent
        # A later answer joins the existing cluster; existing clusters never merge.
        add(db, 1, 1, 100, ["2/4", "2/4", "2/4", "2/4"])
        assert [p.clusters for p in pending_answers(db, "math")] == [
            ["1/2", "03", "9999.857142857143"]]
        assert cluster_pending(db, pool).new_clusters == 0
    assert clusters_of(db, 1)["2/4"] == "1/2"
    rows = cluster_counts(db, 1, "math")
    assert [(r.answer, r.n, r.answers) for r in rows if r.problem_id == 1][:3] == [
        ("1/2", 8, 4), ("03", 2, 2), ("9999.857142857143", 2, 2)]
    assert unclustered_answers(db, 1, "math") == 0


def test_rounds_agree_with_cluster_answers(db: sqlite_utils.Database) -> None:
    """The pooled rounds give exactly `cluster_answers` on the same order."""
    answers = ["4", "2/4", "0.50", "8/2", "1/2", "x", "4.0", "0.5"]
    add(db, 1, 1, 0, answers)
    order = pending_answers(db, "math")[0].pending
    with GradingPool("math", workers=1) as pool:
        cluster_pending(db, pool)
        same = dict(zip([(a, b) for a in order for b in order],
                        pool.same_answers([(a, b) for a in order for b in order])))
    expected = {order[i]: order[m[0]] for m in cluster_answers(order, lambda a, b: same[(a, b)])
                for i in m}
    assert clusters_of(db, 1) == expected
    assert expected["8/2"] == expected["4.0"] == "4" and expected["0.5"] == expected["1/2"]


@pytest.mark.parametrize("grader", ["math-paper", "math-verify"])
def test_other_math_profiles_cluster(db: sqlite_utils.Database, grader: str) -> None:
    add(db, 1, 1, 0, ["1/2", "0.5", "5"], grader=grader)
    with GradingPool(grader, workers=1) as pool:
        cluster_pending(db, pool)
    got = clusters_of(db, 1)
    assert got["1/2"] == got["0.5"] != got["5"]


def test_code_grader_has_no_equivalence(db: sqlite_utils.Database) -> None:
    add(db, 1, 1, 0, ["a", "a "], grader="code")
    with GradingPool("code", workers=1) as pool:
        assert cluster_pending(db, pool).answers == 0
    assert unclustered_answers(db, 1, "code") == 2
