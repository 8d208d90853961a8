"""maj@k cached in the store (m007): equal to the direct computation, dropped by the triggers when
a problem's answers change, refilled, and read by the report (which says where values came
from)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import sqlite_utils
from click.testing import CliRunner
from reachscope.core.answer_clusters import cluster_pending
from reachscope.core.answers import maj_at_k_matrix
from reachscope.core.cli import cli
from reachscope.core.graders import GradingPool
from reachscope.core.metrics import log2_ks
from reachscope.core.vote_cache import (
    clusters_of,
    counts_by_problem,
    fill_vote_cache,
    maj_matrix,
)
from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.grades import write_grades
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run
from reachscope.store.samples import write_samples
from reachscope.store.votes import cached_maj, uncached_problems

N = 12


def add_run(db: sqlite_utils.Database, label: str, pids: list[int], seed: int) -> int:
    """N samples per problem, answers "0".."3" or none; "0" is the correct one."""
    rng = random.Random(seed)
    with db.atomic():
        run_id, _ = get_or_create_run(db, RunSpec(label, "toy", primary_grader="math"))
        write_samples(db, run_id, [SampleIn(p, j, f"{label} {p} {j}") for p in pids
                                   for j in range(N)])
        ids = {(p, j): s for s, p, j in db.execute(
            "SELECT id, problem_id, sample_idx FROM samples WHERE run_id = ?", [run_id])}
        grades = []
        for p in pids:
            for j in range(N):
                a = rng.choice(["0", "0", "1", "1", "2", "3", None])
                grades.append(GradeIn(ids[(p, j)], "math", "no_answer" if a is None else
                                      "correct" if a == "0" else "incorrect", a))
        write_grades(db, grades)
    return run_id


@pytest.fixture
def toy(tmp_path: Path) -> tuple[Path, list[int], list[int]]:
    path = tmp_path / "toy.db"
    db = open_db(path)
    with db.atomic():
        pids = upsert_problems(db, "toy", [ProblemIn(i, f"p{i}", "0") for i in range(5)])
    runs = [add_run(db, "base", pids, 1), add_run(db, "rl", pids, 2)]
    db.close()
    return path, runs, pids


def cached(db: sqlite_utils.Database, run_id: int) -> dict[int, dict[int, float]]:
    out: dict[int, dict[int, float]] = {}
    for pid, k, value in cached_maj(db, run_id, "math"):
        out.setdefault(pid, {})[k] = value
    return out


def direct(db: sqlite_utils.Database, run_id: int) -> dict[int, dict[int, float]]:
    """maj@k on each problem's grid, computed now from the stored counts."""
    out = {}
    for pid, rows in counts_by_problem(db, run_id, "math").items():
        c = clusters_of(rows)
        ks = log2_ks(c.n)
        out[pid] = dict(zip(ks, maj_at_k_matrix([c], ks)[0].tolist()))
    return out


def test_cached_maj_equals_direct_and_regrading_recomputes(
        toy: tuple[Path, list[int], list[int]]) -> None:
    path, runs, pids = toy
    db = open_db(path)
    assert set(uncached_problems(db, "math")) == set(runs)
    done = fill_vote_cache(db, "math")
    assert done.problems == 10 and done.values == 10 * len(log2_ks(N))
    assert uncached_problems(db, "math") == {}
    for run_id in runs:
        got = cached(db, run_id)
        want = direct(db, run_id)
        assert got.keys() == want.keys()
        for pid in want:
            assert got[pid] == want[pid]  # the same computation: equal, not only close
    assert fill_vote_cache(db, "math").problems == 0  # idempotent
    # Regrade one sample of rl's problem 0 to a new answer: only that problem's values go.
    sid = int(db.execute("SELECT id FROM samples WHERE run_id = ? AND problem_id = ? "
                         "AND sample_idx = 0", [runs[1], pids[0]]).fetchone()[0])
    before = direct(db, runs[1])[pids[0]]
    with db.atomic():
        write_grades(db, [GradeIn(sid, "math", "incorrect", "7")])
    assert uncached_problems(db, "math") == {runs[1]: [pids[0]]}
    assert pids[0] not in cached(db, runs[1]) and pids[0] in cached(db, runs[0])
    assert fill_vote_cache(db, "math").problems == 1
    after = cached(db, runs[1])[pids[0]]
    assert after == direct(db, runs[1])[pids[0]] and after != before


def test_clustering_changes_invalidate_and_cluster_pending_fills(
        toy: tuple[Path, list[int], list[int]]) -> None:
    path, runs, pids = toy
    db = open_db(path)
    with GradingPool("math", workers=1) as pool:
        summary = cluster_pending(db, pool)
    assert summary.votes is not None and summary.votes.problems == 10
    with db.atomic():  # a cluster set later ("1" joins "0"): the problem's maj@k changes
        db.execute("UPDATE answer_counts SET cluster = '0' WHERE run_id = ? AND "
                   "problem_id = ? AND answer = '1'", [runs[0], pids[2]])
    assert uncached_problems(db, "math") == {runs[0]: [pids[2]]}


def test_report_reads_the_cache_and_says_so(toy: tuple[Path, list[int], list[int]]) -> None:
    path, runs, _ = toy

    def report() -> dict[str, dict[str, int]]:
        result = CliRunner().invoke(cli, ["report", str(path), "base", "rl", "--format",
                                          "json", "--bootstrap", "20"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        ev = json.loads(result.output)["evidence"]
        return {r["label"]: (r["maj_at_k_values"], r["maj_at_k"]) for r in ev["runs"]}

    cold = report()
    cells = 5 * len(log2_ks(N))
    assert {v[0]["computed"] for v in cold.values()} == {cells}
    db = open_db(path)
    fill_vote_cache(db, "math")
    # A cached value the report must take as is (not recompute): proof it reads the cache.
    db.execute("UPDATE maj_at_k SET value = 0.5 WHERE run_id = ? AND k = 1", [runs[0]])
    db.conn.commit()
    db.close()
    warm = report()
    assert warm["rl"][0] == {"cached": cells, "computed": 0}
    assert warm["rl"][1] == cold["rl"][1]
    assert warm["base"][1]["1"] == 0.5
    db = open_db(path, read_only=True)
    got = maj_matrix(db, runs[1], "math", [999], [clusters_of([])], [1, 2])
    assert got.cached == got.computed == 0 and np.isnan(got.values).all()
    # k = 3 is off the cached grid (1, 2, 4, 8, 12): computed; 1 and 12 read; 13 > n: NaN.
    pid = int(db.execute("SELECT min(problem_id) FROM maj_at_k").fetchone()[0])
    rows = counts_by_problem(db, runs[1], "math")[pid]
    part = maj_matrix(db, runs[1], "math", [pid], [clusters_of(rows)], [1, 3, 12, 13])
    assert (part.cached, part.computed) == (2, 1) and np.isnan(part.values[0, 3])
    assert part.values[0, 1] == maj_at_k_matrix([clusters_of(rows)], [3])[0, 0]
