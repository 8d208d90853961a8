"""store.answers.answer_rows: one (run, problem)'s answers with their clusters, from the
aggregate, and the same rows (without clusters) from an unmigrated file."""

from __future__ import annotations

from pathlib import Path

from reachscope.store import open_db
from reachscope.store.answers import AnswerRow, answer_rows, set_clusters

from .test_answer_counts import fill, unmigrate_answer_counts


def test_answer_rows_with_clusters_and_from_an_unmigrated_file(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    db = open_db(path)
    run_id, pids, _ = fill(db)
    with db.atomic():
        set_clusters(db, "math", [(run_id, pids[0], a, "1/2") for a in ("1/2", "0.5",
                                                                          "\\frac12")])
    # Samples 0-7 of ANSWERS: 1/2 (0, 2), 0.5 (1), none (3, 7), 3 (4, 6), \frac12 (5); the odd
    # ones stopped for length.
    want = [AnswerRow("", None, 2, 0, 2, 0), AnswerRow("1/2", "1/2", 2, 2, 0, 0),
            AnswerRow("3", None, 2, 0, 0, 0), AnswerRow("0.5", "1/2", 1, 1, 1, 1),
            AnswerRow("\\frac12", "1/2", 1, 1, 1, 1)]
    assert answer_rows(db, run_id, pids[0], "math") == want
    assert [r.cluster for r in answer_rows(db, run_id, pids[1], "math")] == [None] * 5
    assert answer_rows(db, run_id, pids[0], "other") == []
    unmigrate_answer_counts(db)
    db.close()
    ro = open_db(path, read_only=True)
    try:
        assert answer_rows(ro, run_id, pids[0], "math") == [
            AnswerRow(r.answer, None, r.n, r.c, r.truncated, r.truncated_c) for r in want]
    finally:
        ro.close()
