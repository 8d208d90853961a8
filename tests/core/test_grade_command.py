"""`reachscope grade` and `reachscope audit` on real SQLite files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from reachscope.core.cli import cli
from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.counts import run_counts
from reachscope.store.grades import write_grades
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run, get_run
from reachscope.store.samples import write_samples

MATH = [("What is 1+1?", "2"), ("Write ten thousand.", "10{,}000"), ("Half of 1?", "\\frac12")]
COMPLETIONS = [
    ["so \\boxed{2}", "\\boxed{3}", "I give up"],
    ["\\boxed{10000}", "\\boxed{10,000}", "The answer is 1000."],
    ["\\boxed{0.5}", "\\boxed{\\frac{1}{2}}", "A: 1/2"],
]


def _build(path: Path) -> None:
    db = open_db(path)
    with db.atomic():
        pids = upsert_problems(db, "tiny", [ProblemIn(i, q, a) for i, (q, a) in enumerate(MATH)])
        run_id, _ = get_or_create_run(db, RunSpec(label="base", dataset="tiny"))
        write_samples(db, run_id, [SampleIn(pid, j, text) for pid, texts in zip(pids, COMPLETIONS)
                                   for j, text in enumerate(texts)])
        # Upstream scores as an importer stores them: wrong on "10{,}000", blind to "A: 1/2".
        sids = [r[0] for r in db.execute("SELECT id FROM samples ORDER BY id")]
        upstream = [True, False, False, False, False, False, True, True, True]
        write_grades(db, [GradeIn(s, "upstream", "correct" if ok else "incorrect")
                          for s, ok in zip(sids, upstream)])


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "runs.db"
    _build(path)
    return path


def _grades(path: Path, grader: str) -> dict[tuple[int, int], tuple[str, str | None]]:
    db = open_db(path, read_only=True)
    rows = db.execute(
        "SELECT p.idx, s.sample_idx, g.verdict, g.answer FROM grades g JOIN samples s ON "
        "s.id = g.sample_id JOIN problems p ON p.id = s.problem_id WHERE g.grader = ?", [grader])
    return {(i, j): (v, a) for i, j, v, a in rows}


def test_grade_resume_regrade_and_audit(db_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["grade", str(db_path), "--workers", "1"])
    assert result.exit_code == 0, result.output
    grades = _grades(db_path, "math")
    assert len(grades) == 9
    assert grades[(0, 0)] == ("correct", "2")
    assert grades[(0, 2)] == ("no_answer", None)
    assert grades[(1, 0)][0] == "correct" and grades[(1, 1)][0] == "correct"
    assert grades[(1, 2)] == ("incorrect", "1000")
    assert grades[(2, 2)][0] == "no_answer"
    db = open_db(db_path, read_only=True)
    run = get_run(db, "base")
    assert run.primary_grader == "math"
    assert run_counts(db, run.id, "math")  # counts kept by the store's triggers
    version = db.execute("SELECT DISTINCT grader_version FROM grades WHERE grader = 'math'")
    assert "math-verify" in version.fetchone()[0]

    again = runner.invoke(cli, ["grade", str(db_path), "--run", "base"])
    assert again.exit_code == 0 and "nothing to grade" in again.output

    # A user pattern for "A: ..." lines, re-grading everything.
    redo = runner.invoke(cli, ["grade", str(db_path), "--run", "tiny/base", "--regrade",
                               "--answer-pattern", r"^A: (.+)$", "--workers", "1"])
    assert redo.exit_code == 0, redo.output
    assert _grades(db_path, "math")[(2, 2)] == ("correct", "1/2")

    table = runner.invoke(cli, ["audit", str(db_path), "--run", "base",
                                "--graders", "upstream", "math"])
    assert table.exit_code == 0, table.output
    assert "disagree" in table.output and "10{,}000" in table.output
    out = runner.invoke(cli, ["audit", str(db_path), "--run", "base", "--graders", "upstream",
                              "math", "--format", "json"])
    report = json.loads(out.output)
    assert report["graded_by_both"] == 9
    pairs = {(d["problem_idx"], d["sample_idx"]) for d in report["samples"]}
    assert pairs == {(1, 0), (1, 1)}
    assert all(d["answer_b"] for d in report["samples"])


def test_user_errors(db_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["grade", str(tmp_path / "absent.db")])
    assert missing.exit_code != 0 and "no such database" in missing.output
    unknown = runner.invoke(cli, ["grade", str(db_path), "--run", "nope"])
    assert unknown.exit_code != 0 and "no run 'nope'" in unknown.output
    pattern = runner.invoke(cli, ["grade", str(db_path), "--answer-pattern", "("])
    assert pattern.exit_code != 0 and "answer pattern" in pattern.output
    audit = runner.invoke(cli, ["audit", str(db_path), "--run", "base", "--graders",
                                "upstream", "math"])
    assert audit.exit_code != 0 and "no grades from grader 'math'" in audit.output


def test_code_run_is_graded_with_the_code_grader(tmp_path: Path) -> None:
    path = tmp_path / "code.db"
    db = open_db(path)
    meta = {"test": "def check(f):\n    assert f(2) == 4\n", "entry_point": "double"}
    with db.atomic():
        (pid,) = upsert_problems(db, "mini", [ProblemIn(0, "def double(x):\n", None, meta)])
        run_id, _ = get_or_create_run(db, RunSpec(label="m", dataset="mini"))
        write_samples(db, run_id, [SampleIn(pid, 0, "    return 2 * x\n"),
                                   SampleIn(pid, 1, "    return x + 1\n")])
    db.conn.close()
    result = CliRunner().invoke(cli, ["grade", str(path), "--timeout", "3", "--workers", "1"])
    assert result.exit_code == 0, result.output
    grades = _grades(path, "code")
    assert grades[(0, 0)][0] == "correct" and grades[(0, 1)][0] == "incorrect"


def test_profiles_store_their_own_graders_and_audit_compares_them(db_path: Path) -> None:
    runner = CliRunner()
    for profile in ("strict", "paper", "math-verify"):
        result = runner.invoke(cli, ["grade", str(db_path), "--profile", profile,
                                     "--workers", "1"])
        assert result.exit_code == 0, result.output
    strict, paper, mv = (_grades(db_path, g) for g in ("math", "math-paper", "math-verify"))
    assert len(strict) == len(paper) == len(mv) == 9
    # "The answer is 1000." against 10{,}000: wrong in every profile.
    assert strict[(1, 2)][0] == paper[(1, 2)][0] == mv[(1, 2)][0] == "incorrect"
    # "I give up": no answer (strict, math-verify); the paper has no number to fall back to.
    assert strict[(0, 2)][0] == "no_answer" and paper[(0, 2)][0] == "no_answer"
    # "A: 1/2": the paper falls back to the last number (2), math-verify reads 1/2 itself.
    assert strict[(2, 2)][0] == "no_answer"
    assert paper[(2, 2)] == ("incorrect", "2") and mv[(2, 2)][0] == "correct"
    db = open_db(db_path, read_only=True)
    versions = dict(db.execute("SELECT DISTINCT grader, grader_version FROM grades").fetchall())
    assert versions["math-paper"].startswith("1+sympy-")
    assert versions["math-verify"].startswith("1+math-verify-")
    db.conn.close()

    table = runner.invoke(cli, ["audit", str(db_path), "--run", "base", "--graders",
                                "upstream", "math", "math-paper", "math-verify"])
    assert table.exit_code == 0, table.output
    assert "both upstream and math-paper disagree" in table.output
    assert "both math and math-verify disagree" in table.output
    out = runner.invoke(cli, ["audit", str(db_path), "--run", "base", "--graders", "upstream",
                              "math", "math-paper", "--format", "json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["graders"] == ["upstream", "math", "math-paper"]
    assert [p["graders"] for p in report["pairs"]] == [
        ["upstream", "math"], ["upstream", "math-paper"], ["math", "math-paper"]]
    assert all(p["graded_by_both"] == 9 for p in report["pairs"])
    by_sample = {(s["problem_idx"], s["sample_idx"]): s for s in report["samples"]}
    # Upstream (False) vs math (correct) on "\boxed{10000}": every grader's verdict is shown.
    assert by_sample[(1, 0)]["verdicts"] == {"upstream": "incorrect", "math": "correct",
                                             "math-paper": "correct"}
    # The paper's "2" for "A: 1/2" against upstream's correct.
    assert by_sample[(2, 2)]["verdicts"]["math-paper"] == "incorrect"


def test_profile_and_option_errors(db_path: Path) -> None:
    runner = CliRunner()
    clash = runner.invoke(cli, ["grade", str(db_path), "--grader", "math", "--profile", "paper"])
    assert clash.exit_code != 0 and "disagree" in clash.output
    mv = runner.invoke(cli, ["grade", str(db_path), "--profile", "math-verify",
                             "--answer-pattern", "A: (.+)"])
    assert mv.exit_code != 0
    assert "--answer-pattern does not apply to grader 'math-verify'" in mv.output
    paper = runner.invoke(cli, ["grade", str(db_path), "--profile", "paper",
                                "--last-number-fallback"])
    assert paper.exit_code != 0 and "--last-number-fallback" in paper.output
    one = runner.invoke(cli, ["audit", str(db_path), "--run", "base", "--graders", "upstream"])
    assert one.exit_code != 0 and "at least two" in one.output


@pytest.mark.timeout(120)
def test_backtracking_answer_pattern_does_not_hang_grade(tmp_path: Path) -> None:
    path = tmp_path / "hostile.db"
    db = open_db(path)
    with db.atomic():
        (pid,) = upsert_problems(db, "tiny", [ProblemIn(0, "Count the a's.", "5")])
        run_id, _ = get_or_create_run(db, RunSpec(label="r", dataset="tiny"))
        write_samples(db, run_id, [SampleIn(pid, 0, "a" * 5000 + "b"),
                                   SampleIn(pid, 1, "I count \\boxed{5}.")])
    db.conn.close()
    # With Python's re, (a+)+$ on 5000 a's and a b would not finish in a lifetime.
    result = CliRunner().invoke(cli, ["grade", str(path), "--workers", "1", "--answer-pattern",
                                      r"(a+)+$", "--pattern-timeout", "0.2"])
    assert result.exit_code == 0, result.output
    db = open_db(path, read_only=True)
    rows = dict(((j, (v, d)) for j, v, d in db.execute(
        "SELECT s.sample_idx, g.verdict, g.detail FROM grades g JOIN samples s ON "
        "s.id = g.sample_id ORDER BY s.sample_idx")))
    assert rows[0][0] == "timeout" and "answer pattern" in rows[0][1]
    assert rows[1][0] == "correct"
