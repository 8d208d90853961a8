"""The SQLite store: idempotent writes, counts kept by triggers, read-only viewers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, StoreError, open_db
from reachscope.store.annotations import add_annotation, annotations_of
from reachscope.store.counts import run_counts, write_counts
from reachscope.store.grades import solved_within, write_grades
from reachscope.store.problems import problems_of, upsert_problems
from reachscope.store.runs import get_or_create_run, get_run, list_runs
from reachscope.store.samples import sample_text, write_samples


@pytest.fixture
def db(tmp_path: Path):
    return open_db(tmp_path / "t.db")


def _setup(db, n_samples: int = 4):
    with db.atomic():
        problems = [ProblemIn(0, "1+1?", "2"), ProblemIn(1, "2+2?", "4")]
        pids = upsert_problems(db, "d", problems)
        run_id, created = get_or_create_run(db, RunSpec("base", "d", model="m"))
        write_samples(db, run_id, [SampleIn(p, i, f"t{p}{i}") for p in pids
                                   for i in range(n_samples)])
    return pids, run_id


def test_schema_is_migrated_and_wal(db) -> None:
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"problems", "runs", "samples", "grades", "counts", "annotations"} <= set(
        db.table_names())
    assert db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] >= 1


def test_samples_are_unique_on_natural_key(db) -> None:
    pids, run_id = _setup(db)
    with db.atomic():
        again = write_samples(db, run_id, [SampleIn(pids[0], 0, "different text")])
    assert again == 0
    assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 8
    assert sample_text(db, 1) == f"t{pids[0]}0"


def test_problems_matched_by_content_hash(db) -> None:
    a = upsert_problems(db, "d", [ProblemIn(0, "What is  1+1?\n", None)])
    b = upsert_problems(db, "d", [ProblemIn(7, "What is 1+1?", "2", {"level": 1})])
    assert a == b
    row = problems_of(db, a)[a[0]]
    assert row.answer == "2" and row.metadata == {"level": 1} and row.idx == 0


def test_counts_follow_grades_including_regrade(db) -> None:
    pids, run_id = _setup(db)
    sids = [r[0] for r in db.execute("SELECT id FROM samples ORDER BY id")]
    with db.atomic():
        write_grades(db, [GradeIn(s, "math", "correct" if s % 2 else "incorrect")
                          for s in sids])
    assert run_counts(db, run_id, "math") == {pids[0]: (4, 2), pids[1]: (4, 2)}
    with db.atomic():  # rewriting identical grades is a no-op
        assert write_grades(db, [GradeIn(s, "math", "correct" if s % 2 else "incorrect")
                                 for s in sids]) == 0
    assert run_counts(db, run_id, "math") == {pids[0]: (4, 2), pids[1]: (4, 2)}
    with db.atomic():  # regrade flips verdicts: c follows, n stays
        write_grades(db, [GradeIn(s, "math", "correct") for s in sids[:4]])
        write_grades(db, [GradeIn(s, "other", "timeout") for s in sids])
    assert run_counts(db, run_id, "math") == {pids[0]: (4, 4), pids[1]: (4, 2)}
    assert run_counts(db, run_id, "other") == {pids[0]: (4, 0), pids[1]: (4, 0)}
    db.execute("DELETE FROM grades WHERE grader = 'other' AND sample_id = ?", [sids[0]])
    assert run_counts(db, run_id, "other")[pids[0]] == (3, 0)
    # p0: all correct after the regrade; p1: its first sample (odd id) is correct.
    assert solved_within(db, run_id, "math", 1) == {pids[0], pids[1]}
    assert solved_within(db, run_id, "other", 4) == set()


def test_unknown_verdict_rejected_and_nothing_written(db) -> None:
    _setup(db)
    with pytest.raises(StoreError, match="unknown verdict"):
        with db.atomic():
            write_grades(db, [GradeIn(1, "math", "correct"), GradeIn(2, "math", "maybe")])
    assert db.execute("SELECT count(*) FROM grades").fetchone()[0] == 0


def test_failed_batch_rolls_back(db) -> None:
    pids, run_id = _setup(db)
    with pytest.raises(sqlite3.IntegrityError):
        with db.atomic():
            write_samples(db, run_id, [SampleIn(pids[0], 99, "ok")])
            write_samples(db, run_id, [SampleIn(123456, 0, "no such problem")])
    assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 8


def test_read_only_open_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    db = open_db(path)
    _setup(db)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    before = path.read_bytes()
    ro = open_db(path, read_only=True)
    assert len(list_runs(ro)) == 1
    with pytest.raises(sqlite3.OperationalError):
        ro.execute("DELETE FROM samples")
    ro.close()
    assert path.read_bytes() == before


def test_read_only_missing_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such database"):
        open_db(tmp_path / "nope.db", read_only=True)


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a SQLite database"):
        open_db(bad)


def test_get_run_resolution(db) -> None:
    get_or_create_run(db, RunSpec("base", "a"))
    get_or_create_run(db, RunSpec("base", "b"))
    get_or_create_run(db, RunSpec("rl", "a"))
    assert get_run(db, "rl").dataset == "a"
    assert get_run(db, "b/base").dataset == "b"
    with pytest.raises(StoreError, match="ambiguous"):
        get_run(db, "base")
    with pytest.raises(StoreError, match="no run 'zzz'"):
        get_run(db, "zzz")


def test_get_run_with_a_slash_in_the_label_or_the_dataset(db) -> None:
    get_or_create_run(db, RunSpec("rl[/]", "lab"))
    get_or_create_run(db, RunSpec("ckpt/100", "org/math"))
    assert get_run(db, "rl[/]").dataset == "lab"
    assert get_run(db, "lab/rl[/]").label == "rl[/]"
    assert get_run(db, "ckpt/100").dataset == "org/math"
    assert get_run(db, "org/math/ckpt/100").label == "ckpt/100"
    with pytest.raises(StoreError, match="no run 'lab/rl'"):
        get_run(db, "lab/rl")
    # Two runs whose dataset/label read the same: only their ids tell them apart.
    other = get_or_create_run(db, RunSpec("100", "org/math/ckpt"))[0]
    with pytest.raises(StoreError, match=rf"ambiguous.*\(id {other}\)"):
        get_run(db, "org/math/ckpt/100")
    assert get_run(db, str(other)).label == "100"


def test_data_version_moves_on_foreign_commit(tmp_path: Path) -> None:
    from reachscope.store import data_version

    writer = open_db(tmp_path / "t.db")
    pids, run_id = _setup(writer)
    viewer = open_db(tmp_path / "t.db", read_only=True)
    v0 = data_version(viewer)
    assert data_version(viewer) == v0
    with writer.atomic():
        write_samples(writer, run_id, [SampleIn(pids[0], 50, "new")])
    assert data_version(viewer) != v0


def test_annotations(db) -> None:
    _setup(db)
    add_annotation(db, 1, "lucky guess", "answer right, steps wrong")
    assert annotations_of(db, 1)[0]["label"] == "lucky guess"
    with pytest.raises(StoreError):
        add_annotation(db, 1, "  ")


def test_aggregate_counts_validation(db) -> None:
    pids, run_id = _setup(db)
    with pytest.raises(StoreError, match="0 <= c <= n"):
        write_counts(db, run_id, "reported", [(pids[0], 4, 5)])


def test_not_a_database_read_only(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a SQLite database"):
        open_db(bad, read_only=True)
