"""Hostile input files: one-line `FILE:LINE:` errors through the real CLI, and nothing changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from reachscope.core.importers import ImportFormatError, JsonlFields, import_samples
from reachscope.store import open_db
from reachscope.store.runs import list_runs


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`reachscope ...` in a real subprocess, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "reachscope.core.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def one_line_error(proc: subprocess.CompletedProcess[str], pattern: str) -> str:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    assert pattern in err, err
    return err


def qwen_line(idx: object = 0, question: str = "Q", code: object = None) -> str:
    return json.dumps({"idx": idx, "question": question, "gt": "1",
                       "code": code if code is not None else ["a"], "score": [True]})


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


HOSTILE = {
    # json.dumps escapes the lone surrogate as the six characters \ud800, as a file would.
    "surrogate": (qwen_line() + "\n" + qwen_line(1, "Q\ud800") + "\n",
                  ":2: field 'question' holds a lone surrogate"),
    "surrogate_in_code": (qwen_line(code=["ok", "x\udc00y"]).replace('"score": [true]',
                                                                     '"score": [true, false]'),
                          ":1: field 'code'[1] holds a lone surrogate"),
    "deep_nesting": (qwen_line() + "\n" + '{"idx": 1, "question": "Q", "gt": "1", "code": '
                     + "[" * 200_000 + "]" * 200_000 + "}\n",
                     ":2: invalid JSON (nested too deeply)"),
    "int_2_63": (qwen_line(idx=2**63) + "\n", ":1: field 'idx' is out of range"),
    "int_huge": (qwen_line() + "\n" + qwen_line().replace(
        '"idx": 0', '"idx": ' + "9" * 5000) + "\n", ":2: invalid JSON (Exceeds the limit"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_qwen_file_one_line_error_no_database(tmp_path: Path, case: str) -> None:
    text, pattern = HOSTILE[case]
    bad = write(tmp_path / f"{case}.jsonl", text)
    db = tmp_path / "new" / "runs.db"
    proc = cli("import", "qwen-jsonl", str(bad), "--db", str(db), "--dataset", "d",
               "--label", "x", cwd=tmp_path)
    one_line_error(proc, f"{bad.name}{pattern}")
    assert not db.parent.exists()


def test_big_integers_in_jsonl_and_counts(tmp_path: Path) -> None:
    f = write(tmp_path / "s.jsonl", json.dumps({"problem": "P", "completion": "c", "k": 0})
              + "\n" + json.dumps({"problem": "P", "completion": "c", "k": 2**63}) + "\n")
    db = tmp_path / "runs.db"
    proc = cli("import", "jsonl", str(f), "--db", str(db), "--dataset", "d", "--label", "x",
               "--sample-index-field", "k", cwd=tmp_path)
    one_line_error(proc, "s.jsonl:2: field 'k' is out of range")
    c = write(tmp_path / "c.csv", f"problem_index,model,n,correct\n0,m,4,1\n{2**63},m,4,1\n")
    proc = cli("import", "counts", str(c), "--db", str(db), "--dataset", "d", cwd=tmp_path)
    one_line_error(proc, "c.csv:3: field 'problem_index' is out of range")
    wide = write(tmp_path / "wide.csv",  # a field over the csv module's 128 KiB limit
                 'problem_index,model,n,correct\n0,"' + "m" * 200_000 + '",4,1\n')
    proc = cli("import", "counts", str(wide), "--db", str(db), "--dataset", "d", cwd=tmp_path)
    one_line_error(proc, "wide.csv:2: invalid CSV (field larger than field limit")
    assert not db.exists()


def test_counts_all_or_nothing_across_files(tmp_path: Path) -> None:
    ok = write(tmp_path / "ok.csv", "problem_index,model,n,correct\n0,base,8,1\n1,base,8,0\n")
    bad = write(tmp_path / "bad.csv", "problem_index,model,n,correct\n0,rl,8,9\n")
    db = tmp_path / "runs.db"
    # into a new path: no file at all
    one_line_error(cli("import", "counts", str(ok), str(bad), "--db", str(db), "--dataset", "d",
                       cwd=tmp_path), "bad.csv:2: need n >= 1")
    assert sorted(os.listdir(tmp_path)) == ["bad.csv", "ok.csv"]
    # into an existing database: nothing of ok.csv is committed
    other = write(tmp_path / "other.csv", "problem_index,model,n,correct\n0,first,4,4\n")
    assert cli("import", "counts", str(other), "--db", str(db), "--dataset", "d",
               cwd=tmp_path).returncode == 0
    one_line_error(cli("import", "counts", str(ok), str(bad), "--db", str(db), "--dataset", "d",
                       cwd=tmp_path), "bad.csv:2")
    conn = open_db(db, read_only=True)
    assert [r.label for r in list_runs(conn)] == ["first"]
    assert conn.execute("SELECT count(*) FROM imports").fetchone()[0] == 1
    conn.close()
    # the same (model, problem) in two files of one call is a conflict, not an overwrite
    again = write(tmp_path / "again.csv", "problem_index,model,n,correct\n1,base,8,5\n")
    one_line_error(cli("import", "counts", str(ok), str(again), "--db", str(db), "--dataset",
                       "d", cwd=tmp_path), "again.csv:2: problem 1 of model 'base' was already")


def test_failed_write_into_new_path_leaves_no_files(tmp_path: Path) -> None:
    """A conflict found only while writing (sample index stored by another file) rolls back and
    removes the database the command created, with its -wal and -shm."""
    a = write(tmp_path / "a.jsonl", json.dumps({"problem": "P", "completion": "x", "k": 0}))
    b = write(tmp_path / "b.jsonl", json.dumps({"problem": "P", "completion": "y", "k": 0}))
    db = tmp_path / "runs.db"
    proc = cli("import", "jsonl", str(a), str(b), "--db", str(db), "--dataset", "d", "--label",
               "x", "--sample-index-field", "k", cwd=tmp_path)
    one_line_error(proc, "b.jsonl:1: sample index 0 of this problem was already given at")
    assert sorted(os.listdir(tmp_path)) == ["a.jsonl", "b.jsonl"]
    # b alone into a database that has a: the conflict is against stored samples
    assert cli("import", "jsonl", str(a), "--db", str(db), "--dataset", "d", "--label", "x",
               "--sample-index-field", "k", cwd=tmp_path).returncode == 0
    proc = cli("import", "jsonl", str(b), "--db", str(db), "--dataset", "d", "--label", "x",
               "--sample-index-field", "k", cwd=tmp_path)
    one_line_error(proc, "b.jsonl:1: sample index 0 of problem 0 is already stored in run d/x")
    new = tmp_path / "fresh.db"
    conn = open_db(new)
    conn.close()
    assert new.exists()  # an existing (empty) database is kept after a failure
    one_line_error(cli("import", "jsonl", str(a), str(b), "--db", str(new), "--dataset", "d",
                       "--label", "x", "--sample-index-field", "k", cwd=tmp_path), "b.jsonl:1")
    assert new.exists()


def test_duplicate_sample_index_reported_at_offending_line(tmp_path: Path) -> None:
    lines = [{"problem": "P", "completion": f"c{j}", "k": j} for j in range(4)]
    lines.append({"problem": "Q", "completion": "q", "k": 0})
    lines.append({"problem": "P", "completion": "again", "k": 2})
    f = write(tmp_path / "s.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    db = open_db(tmp_path / "t.db")
    with pytest.raises(ImportFormatError,
                       match=r"s\.jsonl:6: sample index 2 of this problem was already given at "
                             r".*s\.jsonl:3$"):
        import_samples(db, [f], "d", "x", "jsonl", fields=JsonlFields(sample_index="k"))
    assert list_runs(db) == []


def test_duplicate_problem_index_with_other_text_is_an_error(tmp_path: Path) -> None:
    rows = [qwen_line(0, "first"), qwen_line(1, "second"), qwen_line(0, "another text")]
    f = write(tmp_path / "q.jsonl", "\n".join(rows) + "\n")
    db = open_db(tmp_path / "t.db")
    with pytest.raises(ImportFormatError,
                       match=r"q\.jsonl:3: problem index 0 was given a different text at "
                             r".*q\.jsonl:1$"):
        import_samples(db, [f], "d", "x", "qwen-jsonl")
    # across the seed files of one import too
    g = write(tmp_path / "seed1.jsonl", qwen_line(1, "not the second") + "\n")
    h = write(tmp_path / "seed0.jsonl", "\n".join(rows[:2]) + "\n")
    with pytest.raises(ImportFormatError, match=r"seed1\.jsonl:1: problem index 1 was given"):
        import_samples(db, [h, g], "d", "x", "qwen-jsonl")
    # the same text again (one problem split over lines) is fine
    ok = write(tmp_path / "ok.jsonl", "\n".join(rows[:2] + [rows[0]]) + "\n")
    r = import_samples(db, [ok], "d", "x", "qwen-jsonl")
    assert (r.problems, r.samples_added) == (2, 3)
