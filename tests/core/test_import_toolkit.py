"""The Qwen2.5-Math / ToRA toolkit's output before grading (no `score`) imports as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from reachscope.core.cli import cli
from reachscope.core.importers import ImportFormatError, import_samples
from reachscope.store import imports as store_imports
from reachscope.store import open_db
from reachscope.store.problems import problems_of
from reachscope.store.runs import get_run, list_runs

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "toolkit_no_score.jsonl"


def test_toolkit_output_without_score_imports_samples_and_pred(tmp_path: Path) -> None:
    records = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    assert all("score" not in r and isinstance(r["report"], list) for r in records)
    db_path = tmp_path / "t.db"
    result = CliRunner().invoke(cli, ["import", "qwen-jsonl", str(FIXTURE), "--db", str(db_path),
                                      "--dataset", "math", "--label", "instruct"])
    assert result.exit_code == 0, result.output
    db = open_db(db_path, read_only=True)
    run = get_run(db, "instruct")
    assert run.primary_grader is None and run.status == "imported" and run.n_target == 4
    assert db.execute("SELECT count(*) FROM grades").fetchone()[0] == 0  # no upstream verdicts
    rows = db.execute("SELECT s.id, p.idx, s.sample_idx, s.text FROM samples s "
                      "JOIN problems p ON p.id = s.problem_id ORDER BY p.idx, s.sample_idx"
                      ).fetchall()
    assert len(rows) == 12
    answers = store_imports.upstream_answers(db, [r[0] for r in rows])
    by_idx = {r["idx"]: r for r in records}
    for sid, idx, sidx, text in rows:
        assert text == by_idx[idx]["code"][sidx]
        assert answers[sid] == by_idx[idx]["pred"][sidx]
    problems = problems_of(db, dataset="math")
    assert sorted(p.answer for p in problems.values()) == sorted(r["gt"] for r in records)


def test_pred_is_kept_with_verdicts_too(tmp_path: Path, qwen_file: Path) -> None:
    db = open_db(tmp_path / "t.db")
    import_samples(db, [qwen_file], "math", "qwen", "qwen-jsonl")
    n = db.execute("SELECT count(*) FROM upstream_answers").fetchone()[0]
    same = db.execute("SELECT count(*) FROM upstream_answers u JOIN grades g ON "
                      "g.sample_id = u.sample_id AND g.grader = 'upstream' "
                      "WHERE g.answer = u.answer").fetchone()[0]
    assert n == same == 800


def test_score_on_some_records_only_is_an_error(tmp_path: Path) -> None:
    lines = FIXTURE.read_text().splitlines()
    graded = json.loads(lines[1])
    graded["score"] = [True] * len(graded["code"])
    bad = tmp_path / "mixed.jsonl"
    bad.write_text("\n".join([lines[0], json.dumps(graded), lines[2]]) + "\n")
    db = open_db(tmp_path / "t.db")
    with pytest.raises(ImportFormatError, match=r"mixed\.jsonl:2: has upstream verdict but "
                                                r".*mixed\.jsonl:1 has none"):
        import_samples(db, [bad], "math", "x", "qwen-jsonl")
    assert list_runs(db) == []


def test_generic_importer_points_to_qwen_jsonl(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["import", "jsonl", str(FIXTURE), "--db",
                                      str(tmp_path / "t.db"), "--dataset", "math", "--label",
                                      "x", "--problem-field", "question",
                                      "--completion-field", "code"])
    assert result.exit_code != 0
    assert "must be a string, got list" in result.output and "qwen-jsonl" in result.output
    assert not (tmp_path / "t.db").exists()
