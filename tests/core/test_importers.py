"""Importers on the real paper-format file and on malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reachscope.core.importers import (
    ImportFormatError,
    JsonlFields,
    import_counts,
    import_samples,
)
from reachscope.store import open_db
from reachscope.store.counts import run_counts
from reachscope.store.problems import problems_of
from reachscope.store.runs import get_run, list_runs


def dump(db) -> list[str]:
    return list(db.conn.iterdump())


def test_real_qwen_file_imports_as_100_by_8_with_728_correct(tmp_path: Path, qwen_file: Path):
    db = open_db(tmp_path / "t.db")
    r = import_samples(db, [qwen_file], "math", "qwen", "qwen-jsonl")
    assert (r.problems, r.samples_added, r.correct) == (100, 800, 728)
    run = get_run(db, "qwen")
    counts = run_counts(db, run.id, "upstream")
    assert len(counts) == 100 and all(n == 8 for n, _ in counts.values())
    assert sum(c for _, c in counts.values()) == 728
    assert run.primary_grader == "upstream" and run.status == "imported" and run.n_target == 8
    p = problems_of(db, dataset="math")
    assert any(row.metadata.get("level") == "Level 3" for row in p.values())
    # the upstream extracted answer is kept with its grade
    ans = db.execute("SELECT answer FROM grades WHERE answer IS NOT NULL LIMIT 1").fetchone()
    assert ans is not None


def test_reimport_changes_nothing(tmp_path: Path, qwen_file: Path) -> None:
    path = tmp_path / "t.db"
    db = open_db(path)
    import_samples(db, [qwen_file], "math", "qwen", "qwen-jsonl")
    before = dump(db)
    r = import_samples(db, [qwen_file], "math", "qwen", "qwen-jsonl")
    assert r.files_skipped == 1 and r.samples_added == 0
    assert dump(db) == before


def _write_qwen(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _row(idx: int, k: int, correct: int, q: str | None = None) -> dict:
    return {"idx": idx, "question": q or f"Q{idx}", "gt": str(idx),
            "code": [f"sol {idx}.{j} \\boxed{{{idx}}}" for j in range(k)],
            "pred": [str(idx)] * k, "score": [j < correct for j in range(k)]}


def test_seed_files_pool_into_one_run(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    a = _write_qwen(tmp_path / "out_seed0.jsonl", [_row(0, 4, 1), _row(1, 4, 0)])
    b = _write_qwen(tmp_path / "out_seed1.jsonl", [_row(0, 4, 2), _row(1, 4, 4)])
    import_samples(db, [a], "d", "rl", "qwen-jsonl")
    import_samples(db, [b, a], "d", "rl", "qwen-jsonl")  # a again: skipped, b appended
    run = get_run(db, "rl")
    counts = sorted(run_counts(db, run.id, "upstream").values())
    assert counts == [(8, 3), (8, 4)]
    idx = [r[0] for r in db.execute("SELECT sample_idx FROM samples WHERE problem_id = 1 "
                                    "ORDER BY sample_idx")]
    assert idx == list(range(8))
    assert run.seeds == [0, 1]


BAD_INPUTS = {
    "truncated": (b'{"idx": 0, "question": "Q", "code": ["a"], "score": [true]}\n'
                  b'{"idx": 1, "question": "Q1", "code": ["a"], "sco', r":2: invalid JSON"),
    "wrong_type": (b'{"idx": 0, "question": "Q", "code": "abc", "score": [true]}\n',
                   r":1: field 'code' must be a list"),
    "mismatched": (b'{"idx": 0, "question": "Q", "code": ["a", "b"], "score": [true]}\n',
                   r":1: field 'score' has 1 items but 'code' has 2"),
    "invalid_utf8": (b'{"idx": 0, "question": "Q", "code": ["a"], "score": [true]}\n'
                     b'{"idx": 1, "question": "\xff\xfe", "code": ["a"], "score": [true]}\n',
                     r":2: invalid UTF-8"),
    "empty": (b"\n\n", r": empty file"),
    "not_object": (b'[1, 2]\n', r":1: expected a JSON object"),
    "bad_score": (b'{"idx": 0, "question": "Q", "code": ["a"], "score": ["yes"]}\n',
                  r":1: 'score'\[0\] must be true/false"),
    "missing": (b'{"idx": 0, "code": ["a"], "score": [true]}\n', r":1: missing field 'question'"),
    "bad_idx": (b'{"idx": "x", "question": "Q", "code": ["a"], "score": [true]}\n',
                r":1: field 'idx' must be an integer"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_leaves_database_unchanged(tmp_path: Path, qwen_file: Path, case: str):
    path = tmp_path / "t.db"
    db = open_db(path)
    import_samples(db, [qwen_file], "math", "qwen", "qwen-jsonl")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before_dump, before_bytes = dump(db), path.read_bytes()
    data, pattern = BAD_INPUTS[case]
    bad = tmp_path / f"{case}.jsonl"
    bad.write_bytes(data)
    good = _write_qwen(tmp_path / "good.jsonl", [_row(5, 2, 1, q="brand new")])
    with pytest.raises(ImportFormatError, match=str(bad).replace(".", r"\.") + pattern):
        # the good file comes first: it must not be written either
        import_samples(db, [good, bad], "math", "qwen", "qwen-jsonl")
    assert dump(db) == before_dump
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert path.read_bytes() == before_bytes


def test_generic_jsonl(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    lines = [{"prompt": f"P{p}", "out": f"x{p}{j}", "ok": j == 0, "ref": str(p)}
             for p in range(3) for j in range(5)]
    f = tmp_path / "s.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines))
    fields = JsonlFields(problem="prompt", completion="out", correct="ok", answer="ref")
    r = import_samples(db, [f], "d", "m", "jsonl", fields=fields)
    assert (r.problems, r.samples_added, r.correct) == (3, 15, 3)
    run = get_run(db, "m")
    assert sorted(run_counts(db, run.id, "upstream").values()) == [(5, 1)] * 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "P", "text": "x"}) + "\n")
    with pytest.raises(ImportFormatError, match=r"bad\.jsonl:1: missing field 'out'"):
        import_samples(db, [bad], "d", "m2", "jsonl", fields=fields)
    assert [r.label for r in list_runs(db)] == ["m"]


def test_counts_csv_aggregate_runs(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    f = tmp_path / "c.csv"
    f.write_text("problem_index,model,n,correct\n0,base,8,0\n1,base,8,3\n0,rl,8,8\n1,rl,8,0\n")
    results = import_counts(db, f, "d")
    assert sorted(r.run_label for r in results) == ["base", "rl"]
    base = get_run(db, "base")
    assert base.aggregate_only and base.primary_grader == "reported"
    assert sorted(run_counts(db, base.id, "reported").values()) == [(8, 0), (8, 3)]
    before = dump(db)
    import_counts(db, f, "d")
    assert dump(db) == before
    for body, pattern in [
        ("problem_index,model,n\n", r":1: header must include"),
        ("problem_index,model,n,correct\n0,base,8,9\n", r":2: need n >= 1"),
        ("problem_index,model,n,correct\n0,base,8,x\n", r":2: .* must be integers"),
        ("problem_index,model,n,correct\n0,base,8\n", r":2: expected 4 fields"),
        ("", r": empty file"),
    ]:
        bad = tmp_path / "bad.csv"
        bad.write_text(body)
        with pytest.raises(ImportFormatError, match=pattern):
            import_counts(db, bad, "d")
        assert dump(db) == before
