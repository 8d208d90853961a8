"""Answer counts kept by triggers (m006): exact through inserts, regrades and deletes, backfilled
on migration, read grouped by cluster, and read with a fallback from an unmigrated file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils
from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.answers import (
    cluster_counts,
    pending_answers,
    set_clusters,
    unclustered_answers,
)
from reachscope.store.grades import write_grades
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run
from reachscope.store.samples import write_samples
from reachscope.store.schema import MIGRATIONS

Row = tuple[int, int, str, str, int, int, int, int]



def unmigrate_answer_counts(db) -> None:  # noqa: ANN001
    """Take migration m006 back out of a file: as a reachscope older than it left the file."""
    with db.atomic():
        db.executescript(
            "DROP TRIGGER grades_answer_counts_insert; DROP TRIGGER grades_answer_counts_update;"
            "DROP TRIGGER grades_answer_counts_delete; DROP TRIGGER samples_grades_delete;"
            "DROP TABLE answer_counts;"
            "DELETE FROM _sqlite_migrations WHERE name = 'm006_answer_counts';")

def stored(db: sqlite_utils.Database) -> set[Row]:
    return {tuple(r) for r in db.execute(  # type: ignore[misc]
        "SELECT run_id, problem_id, grader, answer, n, c, truncated, truncated_c "
        "FROM answer_counts WHERE n > 0")}


def scanned(db: sqlite_utils.Database) -> set[Row]:
    """What the aggregate must hold, grouped from grades and samples."""
    return {tuple(r) for r in db.execute(  # type: ignore[misc]
        "SELECT s.run_id, s.problem_id, g.grader, coalesce(g.answer, ''), count(*), "
        "sum(g.verdict = 'correct'), sum(s.finish_reason IS 'length'), "
        "sum(g.verdict = 'correct' AND s.finish_reason IS 'length') "
        "FROM grades g JOIN samples s ON s.id = g.sample_id "
        "GROUP BY s.run_id, s.problem_id, g.grader, coalesce(g.answer, '')")}


ANSWERS = ["1/2", "0.5", "1/2", None, "3", "\\frac12", "3", None]


def fill(db: sqlite_utils.Database) -> tuple[int, list[int], list[int]]:
    """One run, two problems, eight graded samples each; the odd ones stopped for length."""
    with db.atomic():
        pids = upsert_problems(db, "d", [ProblemIn(i, f"problem {i}?", "1/2") for i in range(2)])
        run_id, _ = get_or_create_run(db, RunSpec("base", "d", primary_grader="math"))
        write_samples(db, run_id, [SampleIn(p, j, f"{p} {j}", finish_reason=(
            "length" if j % 2 else "stop")) for p in pids for j in range(len(ANSWERS))])
        sids = [int(r[0]) for r in db.execute("SELECT id FROM samples ORDER BY id")]
        write_grades(db, [GradeIn(s, "math", "correct" if a in ("1/2", "0.5", "\\frac12")
                                  else "no_answer" if a is None else "incorrect", a)
                          for s, a in zip(sids, ANSWERS * 2)])
    return run_id, pids, sids


def test_trigger_keeps_answer_counts_exact(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    run_id, pids, sids = fill(db)
    assert stored(db) == scanned(db)
    assert (run_id, pids[0], "math", "1/2", 2, 2, 0, 0) in stored(db)
    assert (run_id, pids[0], "math", "", 2, 0, 2, 0) in stored(db)
    # Regrade: a changed answer moves a sample between rows, a changed verdict stays.
    with db.atomic():
        write_grades(db, [GradeIn(sids[0], "math", "incorrect", "2"),
                          GradeIn(sids[1], "math", "incorrect", "0.5"),
                          GradeIn(sids[4], "math", "incorrect", "3"),  # unchanged
                          GradeIn(sids[2], "other", "correct", "1/2")])
    assert stored(db) == scanned(db)
    assert (run_id, pids[0], "math", "0.5", 1, 0, 1, 0) in stored(db)
    # Deleting a grade, a sample (its grades go first) and a whole run.
    with db.atomic():
        db.execute("DELETE FROM grades WHERE sample_id = ?", [sids[3]])
        db.execute("DELETE FROM samples WHERE id = ?", [sids[9]])
    assert stored(db) == scanned(db)
    counts = {(p, g): (n, c) for _r, p, g, n, c in db.execute("SELECT * FROM counts")}
    assert counts[(pids[1], "math")] == (7, 3)  # counts follow the sample delete too
    # A row whose last sample left is removed, not kept at n = 0.
    assert db.execute("SELECT count(*) FROM answer_counts WHERE n <= 0").fetchone()[0] == 0
    with db.atomic():
        db.execute("DELETE FROM runs WHERE id = ?", [run_id])
    assert stored(db) == set() == scanned(db)


def test_verdict_change_keeps_the_cluster(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    run_id, pids, sids = fill(db)
    with db.atomic():
        set_clusters(db, "math", [(run_id, pids[0], "0.5", "1/2"), (run_id, pids[0], "1/2", "1/2")])
        write_grades(db, [GradeIn(sids[1], "math", "timeout", "0.5")])
    (cluster,) = db.execute("SELECT cluster FROM answer_counts WHERE problem_id = ? "
                            "AND answer = '0.5'", [pids[0]]).fetchone()
    assert cluster == "1/2"


def test_migration_backfills_from_existing_grades(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = open_db(path)
    fill(db)
    expected = scanned(db)
    unmigrate_answer_counts(db)
    db.close()
    # A viewer reads an unmigrated file by grouping grades: the same clusters, none set.
    ro = open_db(path, read_only=True)
    assert [m.name for m in MIGRATIONS.pending(ro)] == ["m006_answer_counts"]
    run_id = int(ro.execute("SELECT id FROM runs").fetchone()[0])
    unmigrated = cluster_counts(ro, run_id, "math")
    assert unclustered_answers(ro, run_id, "math") == 8 and pending_answers(ro, "math") == []
    ro.close()
    db = open_db(path)
    assert stored(db) == expected
    assert cluster_counts(db, run_id, "math") == unmigrated


def test_cluster_counts_group_by_cluster(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    run_id, pids, _ = fill(db)
    pending = {p.problem_id: p for p in pending_answers(db, "math")}
    assert pending[pids[0]].pending == ["1/2", "3", "0.5", "\\frac12"]  # most samples first
    assert pending[pids[0]].clusters == []
    assert unclustered_answers(db, run_id, "math") == 8
    with db.atomic():
        set_clusters(db, "math", [(run_id, pids[0], a, "1/2") for a in ("1/2", "0.5",
                                                                         "\\frac12")])
    rows = [r for r in cluster_counts(db, run_id, "math") if r.problem_id == pids[0]]
    assert [(r.answer, r.n, r.c, r.truncated, r.answers) for r in rows] == [
        ("1/2", 4, 4, 2, 3), ("", 2, 0, 2, 1), ("3", 2, 0, 0, 1)]
    assert unclustered_answers(db, run_id, "math") == 5
    again = {p.problem_id: p for p in pending_answers(db, "math")}
    assert again[pids[0]].clusters == ["1/2"] and again[pids[0]].pending == ["3"]


def test_unmigrated_read_only_file_opens(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    open_db(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm006_answer_counts'")
    conn.commit()
    conn.close()
    assert open_db(path, read_only=True) is not None
