"""`import jsonl --dataset humaneval` links to the shipped problems and their tests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from reachscope.core.datasets import Dataset, load_dataset
from reachscope.core.importers import ImportFormatError, import_samples, read_sample_files
from reachscope.core.importers.shipped import link_samples
from reachscope.store import ProblemIn, open_db
from reachscope.store.problems import problems_of

#: Real CodeGen-16B HumanEval completions (see tests/data/PROVENANCE.md).
CODEGEN = Path(__file__).resolve().parents[1] / "data" / "codegen16b_humaneval_4x3.jsonl"


@pytest.fixture(scope="module")
def humaneval() -> Dataset:
    return load_dataset("humaneval")


def codegen_tasks(humaneval: Dataset, count: int) -> list[tuple[ProblemIn, list[str], str]]:
    """``count`` CodeGen-16B records with the shipped task their function names (unique names)."""
    entry = {}
    for p in humaneval.problems:
        entry.setdefault(p.metadata["entry_point"], []).append(p)
    out = []
    for line in CODEGEN.read_text().splitlines():
        rec = json.loads(line)
        name = re.findall(r"^def (\w+)\(", rec["prompt"], re.MULTILINE)[-1]
        if len(entry.get(name, [])) == 1:
            out.append((entry[name][0], rec["samples"], rec["prompt"]))
        if len(out) == count:
            break
    return out


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reachscope.core.cli", *args],
                          capture_output=True, text=True, timeout=300)


def test_task_id_links_tests_and_code_grader_runs(tmp_path: Path, humaneval: Dataset) -> None:
    """Real CodeGen completions by task id, plus the canonical solution and a wrong body."""
    tasks = codegen_tasks(humaneval, 3)
    lines = []
    for problem, samples, _ in tasks:
        task_id = problem.metadata["task_id"]
        lines += [{"task_id": task_id, "completion": s} for s in samples[:3]]
        lines.append({"task_id": task_id, "completion": problem.metadata["canonical_solution"]})
        lines.append({"task_id": task_id, "completion": "    return None\n"})
    f = tmp_path / "samples.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    db = tmp_path / "t.db"
    proc = cli("import", "jsonl", str(f), "--db", str(db), "--dataset", "humaneval",
               "--label", "codegen")
    assert proc.returncode == 0, proc.stderr
    conn = open_db(db, read_only=True)
    stored = problems_of(conn, dataset="humaneval")
    assert {p.metadata["task_id"] for p in stored.values()} == \
        {t[0].metadata["task_id"] for t in tasks}
    assert all(p.metadata["test"] and p.metadata["entry_point"] for p in stored.values())
    assert all(p.prompt == humaneval.problems[p.idx].prompt for p in stored.values())
    conn.close()
    proc = cli("grade", str(db), "--run", "codegen", "--grader", "code", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    conn = open_db(db, read_only=True)
    verdicts = conn.execute(
        "SELECT s.sample_idx, g.verdict, g.detail FROM grades g JOIN samples s ON s.id = "
        "g.sample_id WHERE g.grader = 'code' ORDER BY s.problem_id, s.sample_idx").fetchall()
    assert len(verdicts) == 15
    assert not any("no tests" in (d or "") for _, _, d in verdicts)
    by_idx = {}
    for sidx, verdict, _ in verdicts:
        by_idx.setdefault(sidx, []).append(verdict)
    assert by_idx[3] == ["correct"] * 3  # the canonical solutions
    assert by_idx[4] == ["incorrect"] * 3  # `return None`
    assert {v for vs in by_idx.values() for v in vs} <= {"correct", "incorrect", "timeout"}


def test_prompt_text_links_and_mismatch_is_a_clear_error(tmp_path: Path,
                                                         humaneval: Dataset) -> None:
    (problem, samples, codet_prompt), = codegen_tasks(humaneval, 1)
    f = tmp_path / "by_prompt.jsonl"
    # the shipped prompt, re-wrapped (whitespace does not matter)
    f.write_text(json.dumps({"problem": problem.prompt.replace("\n", "\n  ") + "\n\n",
                             "completion": samples[0]}) + "\n")
    db = open_db(tmp_path / "t.db")
    r = import_samples(db, [f], "humaneval", "x", "jsonl")
    assert r.problems == 1
    (stored,) = problems_of(db, dataset="humaneval").values()
    assert stored.metadata["task_id"] == problem.metadata["task_id"]
    # CodeT's prompts drop the docstring examples: no shipped prompt matches
    g = tmp_path / "codet.jsonl"
    g.write_text(json.dumps({"problem": codet_prompt, "completion": samples[0]}) + "\n")
    with pytest.raises(ImportFormatError,
                       match=r"codet\.jsonl:1: no problem of humaneval has this prompt .*task id"):
        read_sample_files([g], "humaneval", "jsonl")
    h = tmp_path / "unknown.jsonl"
    h.write_text(json.dumps({"task_id": "HumanEval/999", "completion": "x"}) + "\n")
    with pytest.raises(ImportFormatError, match=r"unknown\.jsonl:1: task id 'HumanEval/999' is "
                                                r"not a problem of humaneval"):
        read_sample_files([h], "humaneval", "jsonl")
    # a task id alone means nothing outside a shipped dataset
    with pytest.raises(ImportFormatError, match=r"unknown\.jsonl:1: the problem is named only "
                                                r"by its task id"):
        read_sample_files([h], "mine", "jsonl")


def test_ambiguous_prompt_is_refused(tmp_path: Path) -> None:
    twins = Dataset("twins", "code", [
        ProblemIn(0, "def f():\n", None, {"task_id": "T/0", "test": "", "entry_point": "f"}),
        ProblemIn(1, "def f():\n", None, {"task_id": "T/1", "test": "", "entry_point": "f"}),
    ], "test")
    f = tmp_path / "s.jsonl"
    f.write_text(json.dumps({"problem": "def f():", "completion": "  pass"}) + "\n")
    files = read_sample_files([f], "not-shipped", "jsonl")
    with pytest.raises(ImportFormatError, match=r"s\.jsonl:1: this prompt matches several "
                                                r"problems of twins \(T/0, T/1\)"):
        link_samples(files, twins)
