"""Merging databases (store/merge.py): natural keys, exact trigger-kept counts, idempotence,
and refusals that leave the target unchanged."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlite_utils
from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.annotations import set_label
from reachscope.store.counts import write_counts
from reachscope.store.grades import write_grades
from reachscope.store.imports import sample_ids
from reachscope.store.merge import (
    COPIED,
    DERIVED,
    MergeConflict,
    MergeSummary,
    merge_database,
    unknown_tables,
)
from reachscope.store.merge_runs import merged_run, run_conflict
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run, update_run
from reachscope.store.samples import write_samples

KEYS = ("temperature", "top_p", "top_k", "max_tokens", "seed", "template_text", "chat_template",
        "seed_scheme")
PARAMS = {"temperature": 0.6, "top_p": 0.95, "top_k": None, "max_tokens": 64, "seed": 0,
          "template_text": "{problem}", "chat_template": False, "n": 4, "limit": None}


def text(label: str, p: int, j: int) -> str:
    return f"{label} answer to {p} #{j}: \\boxed{{{(p + j) % 3}}}"


def fill(path: Path, indices: range, label: str = "base", status: str = "finished",
         params: dict[str, object] | None = None, seed: int = 0, reviewer: str = "",
         text_of=text, version: str = "1") -> None:
    """A file with 3 problems and run `label`: samples `indices` of each, graded by `math`."""
    db = open_db(path)
    with db.atomic():
        pids = upsert_problems(db, "d", [ProblemIn(i, f"problem {i}?", "1") for i in range(3)])
        run_id, _ = get_or_create_run(db, RunSpec(
            label, "d", model="m", params={**PARAMS, **(params or {})}, n_target=len(indices),
            seeds=[seed], status=status, primary_grader="math",
            provenance={"sessions": [{"host": str(path.name)}]}))
        write_samples(db, run_id, [SampleIn(p, j, text_of(label, p, j), seed=j)
                                   for p in pids for j in indices])
        ids = sample_ids(db, run_id, pids)
        write_grades(db, [
            GradeIn(sid, "math", "correct" if (p + j) % 3 == 1 else "incorrect",
                    answer=str((p + j) % 3), grader_version=version)
            for (p, j), sid in ids.items()])
    if reviewer:
        set_label(db, ids[(pids[0], indices[0])], "good", reviewer=reviewer)
    db.close()


def table(db: sqlite_utils.Database, sql: str) -> list[tuple[object, ...]]:
    return sorted(tuple(r) for r in db.execute(sql).fetchall())


def aggregates(db: sqlite_utils.Database) -> dict[str, list[tuple[object, ...]]]:
    """The trigger-kept tables by natural key (run label, problem index), ids left out."""
    join = "JOIN runs r ON r.id = t.run_id JOIN problems p ON p.id = t.problem_id"
    return {
        "counts": table(db, f"SELECT r.label, p.idx, grader, t.n, t.c FROM counts t {join}"),
        "sample_counts": table(db, f"SELECT r.label, p.idx, t.n FROM sample_counts t {join}"),
        "answer_counts": table(db, f"SELECT r.label, p.idx, grader, t.answer, t.n, t.c, truncated "
                                   f"FROM answer_counts t {join}"),
        "samples": table(db, "SELECT r.label, p.idx, s.sample_idx, s.text FROM samples s "
                             "JOIN runs r ON r.id = s.run_id "
                             "JOIN problems p ON p.id = s.problem_id"),
    }


def dump_sha(path: Path) -> str:
    db = open_db(path, read_only=True)
    try:
        return hashlib.sha256("\n".join(db.conn.iterdump()).encode()).hexdigest()
    finally:
        db.close()


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def merge(target: Path, source: Path) -> MergeSummary:
    dst, src = open_db(target), open_db(source, read_only=True)
    try:
        with dst.atomic():
            return merge_database(dst, src, (source.name, target.name), KEYS)
    finally:
        src.close()
        dst.close()


def test_merge_equals_sampling_into_one_file_and_twice_changes_nothing(tmp_path: Path) -> None:
    a, b, one, out = (tmp_path / f"{n}.db" for n in ("a", "b", "one", "all"))
    fill(a, range(0, 4), reviewer="ann")
    fill(b, range(2, 8), seed=1, status="interrupted", reviewer="bob")  # 2, 3 overlap
    fill(one, range(0, 8))
    first = merge(out, a)
    assert first.runs[0].created and first.runs[0].samples_added == 12
    second = merge(out, b)
    assert (second.runs[0].samples_added, second.runs[0].samples_skipped) == (12, 6)
    assert second.runs[0].grades_added == 12
    merged, reference = open_db(out, read_only=True), open_db(one, read_only=True)
    assert aggregates(merged) == aggregates(reference)
    run = merged.execute("SELECT seeds, status, n_target, provenance FROM runs").fetchone()
    assert run[:3] == ("[0, 1]", "interrupted", 6)
    assert '"host": "a.db"' in run[3] and '"host": "b.db"' in run[3]
    assert table(merged, "SELECT reviewer, label FROM annotations") == [("ann", "good"),
                                                                        ("bob", "good")]
    merged.close()
    reference.close()
    before = (dump_sha(out), file_sha(out))
    for source in (a, b, a):
        again = merge(out, source)
        assert not again.changed
        assert again.runs[0].samples_skipped == (12 if source == a else 18)
    assert (dump_sha(out), file_sha(out)) == before


def test_conflicting_params_are_refused_and_the_target_unchanged(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "all.db"
    fill(a, range(4))
    fill(b, range(4, 8), params={"temperature": 1.0})
    merge(out, a)
    before = file_sha(out)
    with pytest.raises(MergeConflict) as exc:
        merge(out, b)
    message = str(exc.value)
    assert "\n" not in message
    for part in ("b.db", "all.db", "d/base", "params.temperature", "1.0", "0.6"):
        assert part in message
    assert file_sha(out) == before


def test_another_text_at_a_sample_index_is_refused(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "all.db"
    fill(a, range(4))
    fill(b, range(2, 6), text_of=lambda label, p, j: f"other {p} {j}")
    merge(out, a)
    before = file_sha(out)
    with pytest.raises(MergeConflict, match=r"b\.db into all\.db: run d/base problem 0 sample 2 "
                                            r"has another text"):
        merge(out, b)
    assert file_sha(out) == before


def test_grades_conflict_on_the_same_version_and_the_later_version_wins(tmp_path: Path) -> None:
    a, b, c, out = (tmp_path / f"{n}.db" for n in ("a", "b", "c", "all"))
    fill(a, range(4))
    for path, version in ((b, "1"), (c, "2")):
        fill(path, range(4), version=version)
        db = open_db(path)
        with db.atomic():
            db.execute("UPDATE grades SET verdict = 'correct', answer = '1', "
                       "created_at = '2999-01-01' WHERE sample_id = 2")
        db.close()
    merge(out, a)
    before = file_sha(out)
    with pytest.raises(MergeConflict, match="grader math .version 1. says correct in b.db but "
                                            "incorrect in all.db"):
        merge(out, b)
    assert file_sha(out) == before
    summary = merge(out, c)
    assert summary.runs[0].grades_replaced == 12  # every grade of c is version 2, and later
    db = open_db(out, read_only=True)
    assert aggregates(db)["counts"] == aggregates(open_db(c, read_only=True))["counts"]
    assert table(db, "SELECT DISTINCT grader_version FROM grades") == [("2",)]


def test_aggregate_only_counts_are_copied_and_must_agree(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "all.db"
    for path, rows in ((a, [(0, 8, 3)]), (b, [(0, 8, 4), (1, 8, 1)])):
        db = open_db(path)
        with db.atomic():
            pids = upsert_problems(db, "d", [ProblemIn(i, None) for i in range(2)])
            run_id, _ = get_or_create_run(db, RunSpec("paper", "d", status="imported",
                                                      aggregate_only=True,
                                                      primary_grader="reported"))
            write_counts(db, run_id, "reported", [(pids[p], n, c) for p, n, c in rows])
        db.close()
    assert merge(out, a).runs[0].counts_added == 1
    assert not merge(out, a).changed
    with pytest.raises(MergeConflict, match="problem 0 grader reported: counts n=8, c=4 in b.db "
                                            "but n=8, c=3 in all.db"):
        merge(out, b)
    db = open_db(out, read_only=True)
    assert table(db, "SELECT n, c FROM counts") == [(8, 3)]


def test_status_is_the_least_finished_and_seeds_union() -> None:
    ours = {"status": "finished", "seeds": [0], "n_target": 4, "created_at": "1",
            "updated_at": "2", "finished_at": "2", "params": {"n": 4, "limit": 2}}
    theirs = {**ours, "status": "running", "seeds": [3, 0], "n_target": 8, "finished_at": None,
              "params": {"n": 8, "limit": None}}
    run = merged_run(ours, theirs)
    assert (run["status"], run["seeds"], run["n_target"], run["finished_at"]) == \
        ("running", [0, 3], 8, None)
    assert run["params"] == {"n": 8, "limit": None}
    assert run_conflict(ours, theirs, KEYS) is None
    clash = run_conflict({**ours, "model": "x"}, {**theirs, "model": "y"}, KEYS)
    assert clash is not None and clash.field == "model"


def test_every_table_of_the_schema_is_merged_or_derived(tmp_path: Path) -> None:
    """A new table needs a decision in store/merge.py: copied row by row, or derived."""
    db = open_db(tmp_path / "t.db")
    assert unknown_tables(db) == []
    names = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(COPIED) <= names and set(DERIVED) <= names


def test_a_source_with_an_unknown_table_holding_rows_is_refused(tmp_path: Path) -> None:
    a, out = tmp_path / "a.db", tmp_path / "all.db"
    fill(a, range(2))
    db = open_db(a)
    db.execute("CREATE TABLE future (x)")
    db.execute("INSERT INTO future VALUES (1)")
    db.conn.commit()
    db.close()
    with pytest.raises(MergeConflict, match="table 'future' is unknown"):
        merge(out, a)


def test_a_remerged_source_that_finished_advances_the_run(tmp_path: Path) -> None:
    """A run made by merging follows its sources' latest statuses: the least finished of them."""
    a, b, out = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "all.db"
    fill(a, range(2), status="running")
    fill(b, range(2, 4), seed=1, status="finished")

    def status() -> str:
        return str(open_db(out, read_only=True).execute("SELECT status FROM runs").fetchone()[0])

    merge(out, a)
    merge(out, b)
    assert status() == "running"  # a is still running
    db = open_db(a)
    update_run(db, 1, status="finished")
    db.close()
    summary = merge(out, a)
    assert not summary.changed  # no rows, but the run's status moved:
    assert status() == "finished"
    before = (dump_sha(out), file_sha(out))
    merge(out, a)
    merge(out, b)
    assert (dump_sha(out), file_sha(out)) == before  # and merging again changes nothing


def test_a_target_with_its_own_copy_keeps_the_least_finished(tmp_path: Path) -> None:
    """The target's own (sampled) copy has no source status to follow: the least finished of
    the copies stays, so a finished source does not promote a target still running."""
    a, out = tmp_path / "a.db", tmp_path / "all.db"
    fill(out, range(2), status="running")
    fill(a, range(2, 4), seed=1, status="finished")
    merge(out, a)
    merge(out, a)
    assert open_db(out, read_only=True).execute("SELECT status FROM runs").fetchone()[0] == \
        "running"
