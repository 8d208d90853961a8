"""The scores store (m008): scorers, idempotent batched writes, keyset pages of unscored samples."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from reachscope.store import ProblemIn, RunSpec, SampleIn, StoreError, open_db
from reachscope.store import scores as ss
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run
from reachscope.store.samples import write_samples


def _db(path: Path, n: int = 5) -> tuple[sqlite_utils.Database, int, list[int]]:
    db = open_db(path)
    with db.atomic():
        pids = upsert_problems(db, "d", [ProblemIn(0, "What is 1+1?", "2")])
        run_id, _ = get_or_create_run(db, RunSpec("r", "d"))
        write_samples(db, run_id, [SampleIn(pids[0], i, f"t{i}") for i in range(n)])
    ids = [int(r[0]) for r in db.execute("SELECT id FROM samples ORDER BY id")]
    return db, run_id, ids


def test_scores_round_trip_and_resume(tmp_path: Path) -> None:
    db, run_id, ids = _db(tmp_path / "s.db")
    with db.atomic():
        sid = ss.ensure_scorer(db, "base", "models/base", "hf", {"x": 1})
    assert ss.ensure_scorer(db, "base", "models/base", "hf", {}) == sid
    with pytest.raises(StoreError, match="another scorer name"):
        ss.ensure_scorer(db, "base", "models/other", "hf", {})
    assert ss.count_to_score(db, run_id, sid) == 5
    page = ss.samples_to_score(db, run_id, sid, 0, 2)
    assert [p[0] for p in page] == ids[:2]
    batch = [ss.ScoreIn(i, 3, -1.5, -0.5, 0.2) for i in ids[:2]]
    with db.atomic():
        ss.write_scores(db, sid, batch)
        ss.write_scores(db, sid, batch)  # a retry writes no duplicate
    assert ss.count_to_score(db, run_id, sid) == 3
    rest = ss.samples_to_score(db, run_id, sid, 0, 10)
    assert [p[0] for p in rest] == ids[2:]
    with db.atomic():
        ss.write_scores(db, sid, [ss.ScoreIn(ids[2], None, None, None, None, "long")])
    rows = list(ss.scored_samples(db, run_id, sid))
    assert len(rows) == 2 and rows[0].mean_logprob == -0.5 and rows[0].correct is None
    assert ss.score_counts(db, run_id) == {"base": (3, 1)}
    assert ss.sample_scores(db, ids, sid)[ids[0]].sum_logprob == -1.5
    assert ss.get_scorer(db, "base").provenance == {"x": 1}


def test_deleting_a_run_deletes_its_scores(tmp_path: Path) -> None:
    db, run_id, ids = _db(tmp_path / "s.db", 2)
    with db.atomic():
        sid = ss.ensure_scorer(db, "b", "m", "hf", {})
        ss.write_scores(db, sid, [ss.ScoreIn(i, 1, -1.0, -1.0) for i in ids])
        db.execute("DELETE FROM runs WHERE id = ?", [run_id])
    assert db.execute("SELECT count(*) FROM scores").fetchone()[0] == 0


def test_viewer_opens_a_file_without_scores(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db, run_id, _ = _db(path, 1)
    db.close()
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE scores; DROP TABLE scorers; "
                       "DELETE FROM _sqlite_migrations WHERE name = 'm008_scores';")
    conn.commit()
    conn.close()
    viewer = open_db(path, read_only=True)  # m008 is optional for readers
    assert ss.list_scorers(viewer) == []
    assert list(ss.scored_samples(viewer, run_id, 1)) == []
    with pytest.raises(StoreError, match="no scores yet"):
        ss.require_scores_table(viewer)
    viewer.close()
    assert "scores" in open_db(path).table_names()  # a writer migrates it
