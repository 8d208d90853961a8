"""Built-in benchmark loaders and user dataset files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from reachscope.core.datasets import BUILTIN_DATASETS, DatasetError, load_dataset


@pytest.mark.parametrize(
    ("name", "kind", "size", "first_answer"),
    [("math500", "math", 500, "\\left( 3, \\frac{\\pi}{2} \\right)"), ("gsm8k", "math", 1319, "18"),
     ("aime24", "math", 30, "204"), ("amc23", "math", 40, "27"), ("humaneval", "code", 164, None)],
)
def test_builtins(name: str, kind: str, size: int, first_answer: str | None) -> None:
    ds = load_dataset(name)
    assert (ds.name, ds.kind, len(ds.problems)) == (name, kind, size)
    first = ds.problems[0]
    assert first.idx == 0 and first.prompt and first.answer == first_answer
    assert "level" in first.metadata and "subject" in first.metadata


def test_builtin_details() -> None:
    assert load_dataset("math500").problems[0].metadata["subject"] == "Precalculus"
    assert all(p.answer and "####" not in p.answer for p in load_dataset("gsm8k").problems)
    assert all("." not in (p.answer or "") for p in load_dataset("amc23").problems)
    he = load_dataset("humaneval").problems[0].metadata
    assert he["entry_point"] == "has_close_elements" and "def check" in he["test"]
    assert he["task_id"] == "HumanEval/0"
    assert set(BUILTIN_DATASETS) == {"math500", "gsm8k", "aime24", "amc23", "humaneval"}


def test_jsonl_csv_parquet(tmp_path: Path) -> None:
    rows = [{"q": "1+1?", "sol": "2", "key": "a"}, {"q": "2+2?", "sol": "4", "key": "b"}]
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    pd.DataFrame(rows).to_csv(tmp_path / "mine.csv", index=False)
    pd.DataFrame(rows).to_parquet(tmp_path / "mine.parquet")
    for path in (jsonl, tmp_path / "mine.csv", tmp_path / "mine.parquet"):
        ds = load_dataset(path, problem_field="q", answer_field="sol", id_field="key")
        assert ds.name == "mine" and ds.kind == "math"
        assert [(p.prompt, p.answer, p.metadata["id"]) for p in ds.problems] == [
            ("1+1?", "2", "a"), ("2+2?", "4", "b")]


def test_default_fields_and_code_kind(tmp_path: Path) -> None:
    path = tmp_path / "code.jsonl"
    path.write_text(json.dumps({"prompt": "def f():\n", "test": "def check(c): pass",
                                "entry_point": "f"}) + "\n")
    ds = load_dataset(path)
    assert ds.kind == "code" and ds.problems[0].answer is None


def test_missing_field_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"question": "x", "answer": "1"}) + "\n")
    with pytest.raises(DatasetError, match=r"bad\.jsonl: no field 'sol' for the answer"):
        load_dataset(path, answer_field="sol")
    nothing = tmp_path / "noanswer.csv"
    nothing.write_text("question\nx\n")
    with pytest.raises(DatasetError, match=r"noanswer\.csv: no answer field"):
        load_dataset(nothing)
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "absent.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(DatasetError, match="line 1 is not JSON"):
        load_dataset(broken)
