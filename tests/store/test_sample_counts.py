"""Per-run sample counts kept by triggers (m004): exact through inserts, resumes and deletes,
backfilled on migration, and read with a fallback from a file a viewer did not migrate."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from reachscope.store import ProblemIn, RunSpec, SampleIn, StoreError, open_db
from reachscope.store.counts import sample_totals
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run, run_progress, run_summaries
from reachscope.store.samples import write_samples
from reachscope.store.schema import MIGRATIONS

M004 = "m004_sample_counts"


def scanned(db: sqlite_utils.Database) -> dict[int, tuple[int, int]]:
    """What the counts must be: run id -> (samples, problems), counted from `samples`."""
    return {
        int(r): (int(n), int(p))
        for r, n, p in db.execute(
            "SELECT run_id, count(*), count(DISTINCT problem_id) FROM samples GROUP BY run_id")
    }


def per_problem(db: sqlite_utils.Database) -> dict[tuple[int, int], int]:
    return {(int(r), int(p)): int(n) for r, p, n in db.execute(
        "SELECT run_id, problem_id, n FROM sample_counts")}


def per_problem_scanned(db: sqlite_utils.Database) -> dict[tuple[int, int], int]:
    return {(int(r), int(p)): int(n) for r, p, n in db.execute(
        "SELECT run_id, problem_id, count(*) FROM samples GROUP BY run_id, problem_id")}


def fill(db: sqlite_utils.Database, label: str, indices: range,
         problems: int = 3) -> tuple[int, list[int]]:
    with db.atomic():
        pids = upsert_problems(db, "d", [ProblemIn(i, f"problem {i}?", str(i))
                                         for i in range(problems)])
        run_id, _ = get_or_create_run(db, RunSpec(label, "d", n_target=len(indices)))
        write_samples(db, run_id, [SampleIn(p, j, f"{label} {p} {j}") for p in pids
                                   for j in indices])
    return run_id, pids


def assert_exact(db: sqlite_utils.Database) -> None:
    assert per_problem(db) == per_problem_scanned(db)
    assert sample_totals(db) == scanned(db)


def test_counts_follow_inserts_a_resume_and_deletes(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    base, pids = fill(db, "base", range(4))
    rl, _ = fill(db, "rl", range(2))
    assert sample_totals(db) == {base: (12, 3), rl: (6, 3)}
    assert_exact(db)

    # A resume writes what is stored again (ignored) and the rest: only new rows count.
    fill(db, "rl", range(5))
    assert sample_totals(db)[rl] == (15, 3)
    assert_exact(db)

    with db.atomic():
        db.execute("DELETE FROM samples WHERE run_id = ? AND problem_id = ?", [base, pids[0]])
        db.execute("DELETE FROM samples WHERE run_id = ? AND problem_id = ? AND sample_idx = 0",
                   [base, pids[1]])
    assert sample_totals(db)[base] == (7, 2)
    assert (base, pids[0]) not in per_problem(db)  # no row for a problem without samples
    assert_exact(db)

    with db.atomic():  # a sample moved to another problem (no code does this; the trigger does)
        db.execute("UPDATE samples SET problem_id = ? WHERE run_id = ? AND problem_id = ? "
                   "AND sample_idx = 1", [pids[0], base, pids[1]])
    assert_exact(db)

    with db.atomic():  # deleting a run cascades to its samples and their counts
        db.execute("DELETE FROM runs WHERE id = ?", [rl])
    assert sample_totals(db) == {base: (7, 3)}
    assert_exact(db)


def test_summaries_and_progress_read_the_counts(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    run_id, _ = fill(db, "base", range(4))
    summary = run_summaries(db)[0]
    assert (summary.problems, summary.samples) == (3, 12)
    assert run_progress(db, run_id).samples == 12
    # The figures come from sample_counts: changing it (never done) shows in both.
    db.execute("UPDATE sample_counts SET n = n + 1")
    assert run_summaries(db)[0].samples == 15 and run_progress(db, run_id).samples == 15


def m003_database(path: Path) -> sqlite_utils.Database:
    """A database at the schema before m004, with two runs' samples."""
    db = sqlite_utils.Database(sqlite3.connect(str(path), check_same_thread=False))
    MIGRATIONS.apply(db, stop_before=M004)
    assert not db["sample_counts"].exists()
    fill(db, "base", range(4))
    fill(db, "rl", range(3), problems=2)
    return db


def test_migration_backfills_counts(tmp_path: Path) -> None:
    old = m003_database(tmp_path / "old.db")
    expected = scanned(old)
    old.close()
    db = open_db(tmp_path / "old.db")  # a writer migrates
    assert M004 in {m.name for m in MIGRATIONS.applied(db)}
    assert sample_totals(db) == expected == {1: (12, 3), 2: (6, 2)}
    assert_exact(db)
    fill(db, "rl", range(6), problems=2)  # and the triggers carry on from the backfill
    assert sample_totals(db)[2] == (12, 2)
    assert_exact(db)


def test_viewer_reads_an_unmigrated_file_with_the_same_figures(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = m003_database(path)
    expected = scanned(old)
    old.close()
    before = path.read_bytes()
    db = open_db(path, read_only=True)  # opens: m004 is optional for readers
    assert not db["sample_counts"].exists()
    assert sample_totals(db) == expected
    assert sample_totals(db, [2]) == {2: expected[2]}
    assert {s.run.id: (s.samples, s.problems) for s in run_summaries(db)} == expected
    assert run_progress(db, 1).samples == 12
    db.close()
    assert path.read_bytes() == before  # nothing migrated, nothing written


def test_viewer_still_refuses_a_file_missing_required_migrations(tmp_path: Path) -> None:
    path = tmp_path / "older.db"
    old = m003_database(path)
    with old.conn:  # m003 is required: a reader needs its annotation columns
        old.execute("DELETE FROM _sqlite_migrations WHERE name = 'm003_annotation_reviewer'")
    old.close()
    with pytest.raises(StoreError, match="older than this reachscope.*migrates it"):
        open_db(path, read_only=True)
