"""`reachscope report` evidence sections and `--trajectory` on databases built through the store
API, checked against the pure formulas of core/answers.py and core/evidence.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner
from reachscope.core.answers import AnswerClusters, answer_distribution, maj_at_k
from reachscope.core.cli import cli
from reachscope.core.evidence import (
    detection_floor,
    g_pass_at_k_matrix,
    mg_pass_at_k_matrix,
    pass_pow_k_matrix,
)
from reachscope.core.metrics import pass_at_k_curve
from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.answers import set_clusters
from reachscope.store.grades import write_grades
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run
from reachscope.store.samples import write_samples

# Per run and problem: (answer or None, correct, stopped for length) per sample; n = 4.
BASE = [
    [("1", True, False), ("2", False, False), ("3", False, True), (None, False, True)],
    [("5", False, False), ("5", False, False), ("6", True, False), ("7", False, False)],
    [("9", False, False), ("8", False, False), ("8", False, False), ("9", False, False)],
]
RL = [
    [("1", True, False), ("1", True, False), ("1", True, False), ("2", False, False)],
    [("5", False, False), ("5", False, False), ("5", False, True), ("6", True, False)],
    [("8", False, False), ("8", False, False), ("8", False, False), ("8", False, False)],
]


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def add_run(db: sqlite_utils.Database, label: str, pids: list[int],
            samples: list[list[tuple[str | None, bool, bool]]], **params: object) -> int:
    with db.atomic():
        run_id, _ = get_or_create_run(db, RunSpec(label, "toy", model=f"m/{label}",
                                                  primary_grader="math", params=dict(params)))
        write_samples(db, run_id, [
            SampleIn(pid, j, f"{label} {pid} {j}", finish_reason="length" if cut else "stop")
            for pid, rows in zip(pids, samples) for j, (_a, _ok, cut) in enumerate(rows)])
        ids = {(p, j): s for s, p, j in db.execute(
            "SELECT id, problem_id, sample_idx FROM samples WHERE run_id = ?", [run_id])}
        write_grades(db, [
            GradeIn(ids[(pid, j)], "math", "correct" if ok else
                    "no_answer" if a is None else "incorrect", a)
            for pid, rows in zip(pids, samples) for j, (a, ok, _cut) in enumerate(rows)])
    return run_id


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    path = tmp_path / "toy.db"
    db = open_db(path)
    with db.atomic():
        pids = upsert_problems(db, "toy", [ProblemIn(i, f"p{i}", str(i)) for i in range(3)])
    add_run(db, "base", pids, BASE, n=4, max_tokens=1024)
    rl = add_run(db, "rl", pids, RL, n=4, max_tokens=3072)
    with db.atomic():  # clusters as `grade` would set them ("6" and "5" pretend to be equal)
        set_clusters(db, "math", [(rl, pids[1], "6", "5")])
    db.close()
    return path


def clusters(rows: list[tuple[str | None, bool, bool]],
             merge: dict[str, str] | None = None) -> AnswerClusters:
    sizes: dict[str, list[bool]] = {}
    for a, ok, _ in rows:
        if a is not None:
            sizes.setdefault((merge or {}).get(a, a), []).append(ok)
    return AnswerClusters(tuple(len(v) for v in sizes.values()),
                          tuple(any(v) for v in sizes.values()),
                          sum(a is None for a, _, _ in rows))


def test_report_json_matches_the_formulas(toy: Path) -> None:
    out = json.loads(run("report", str(toy), "base", "rl", "--format", "json",
                         "--bootstrap", "200"))
    ev = out["evidence"]
    assert ev["ks"] == [1, 2, 4]
    runs = {r["label"]: r for r in ev["runs"]}
    expected = {"base": [clusters(p) for p in BASE],
                "rl": [clusters(RL[0]), clusters(RL[1], {"6": "5"}), clusters(RL[2])]}
    for label, cl in expected.items():
        r = runs[label]
        dists = [answer_distribution(c) for c in cl]
        assert r["mean_entropy"] == pytest.approx(sum(d.entropy for d in dists) / 3, abs=1e-12)
        for k in (1, 2, 4):
            assert r["maj_at_k"][str(k)] == pytest.approx(
                sum(maj_at_k(c, k) for c in cl) / 3, abs=1e-12)
        samples = BASE if label == "base" else RL
        n = [4, 4, 4]
        c = [sum(ok for _, ok, _ in p) for p in samples]
        assert r["pass_pow_k"]["2"] == pytest.approx(pass_pow_k_matrix(n, c, [2]).mean())
        assert r["mg_pass_at_k"]["4"] == pytest.approx(mg_pass_at_k_matrix(n, c, [4]).mean())
        assert r["g_pass_at_k"]["0.5"]["2"] == pytest.approx(
            g_pass_at_k_matrix(n, c, [2], 0.5).mean())
    # Hand values: base problem 0 has four samples, two cut (one without an answer).
    assert runs["base"]["truncation"]["share"] == 2 / 12
    assert runs["base"]["truncation"]["no_answer_truncated_share"] == 1.0
    assert runs["rl"]["truncation"]["incorrect_truncated_share"] == 1 / 8
    assert runs["rl"]["cons_at_n"] == pytest.approx((1 + 1 + 0) / 3)  # "6" joins "5": correct
    (pair,) = ev["pairs"]
    assert pair["k"] == 4 and pair["support"]["preserved"] == 2 and pair["support"]["out"] == 1
    assert pair["support"]["srr"] == 1.0 and pair["support"]["ndr"] == 0.0
    assert pair["support"]["detection_floor"]["base"] == detection_floor(4)
    gap = pair["efficiency_gap"]
    assert gap["gap"] == pytest.approx(pass_at_k_curve([4] * 3, [1, 1, 0], [4])[0]
                                       - pass_at_k_curve([4] * 3, [3, 1, 0], [1])[0])
    assert gap["interval"]["low"] <= gap["gap"] <= gap["interval"]["high"]
    # rl's mode on problem 2 is "8" (wrong) but base never solves it: not confidently wrong.
    assert pair["confidently_wrong"]["problems"] == [] and pair["confidently_wrong"]["total"] == 3
    assert pair["budget_parity"] == ["rl sampled with max_tokens 3072, base with 1024"]
    counts = pair["accuracy_transitions"]["counts"]
    assert sum(map(sum, counts)) == 3 and counts[0][0] == 1
    # Cells list problems by dataset index, not by id (the toy's ids are its indices + 1):
    # problem 0 moves from bin .3 (base 1/4) to .8 (rl 3/4), 1 stays in .3, 2 stays at 0.
    cells = pair["accuracy_transitions"]["problems"]
    assert (cells[3][8], cells[3][3], cells[0][0]) == ([0], [1], [2])
    assert math.isclose(pair["entropy_difference"]["estimate"],
                        runs["rl"]["mean_entropy"] - runs["base"]["mean_entropy"])


def test_report_formats_carry_the_evidence(toy: Path) -> None:
    table = run("report", str(toy), "base", "rl", "--bootstrap", "50")
    assert "maj base" in table and "SRR" in table and "dSE" in table
    assert "budget parity: rl sampled with max_tokens 3072, base with 1024" in table
    assert all(len(line) <= 80 for line in table.splitlines())
    md = run("report", str(toy), "base", "rl", "--format", "markdown", "--bootstrap", "0")
    assert "| run | H |" in md
    assert "(0.2,0.3] -> (0.7,0.8]: problems 0\n" in md  # index 0, whose id is 1
    csv_out = run("report", str(toy), "base", "rl", "--format", "csv", "--bootstrap", "0")
    evidence = csv_out.split("\n\n", 1)[1].splitlines()
    assert evidence[0] == "section,run,metric,k,value,low,high"
    assert any(line.startswith("efficiency_gap,rl vs base,dse,4,") for line in evidence)
    plain = run("report", str(toy), "base", "rl", "--no-evidence")
    assert "SRR" not in plain


def test_trajectory_of_five_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "traj.db"
    db = open_db(path)
    with db.atomic():
        pids = upsert_problems(db, "toy", [ProblemIn(i, f"p{i}", str(i)) for i in range(2)])
    right, wrong, other = ("1", True, False), ("2", False, False), ("3", False, False)
    # Created out of order on purpose: the step decides, and base (no step) comes first.
    add_run(db, "rl-step200", pids, [[right] * 4, [right, wrong, wrong, wrong]])
    add_run(db, "base", pids, [[right, wrong, other, wrong], [wrong, right, other, wrong]])
    add_run(db, "rl-step50", pids, [[right, right, wrong, other], [wrong] * 4])
    add_run(db, "ckpt-1000", pids, [[right] * 4, [right] * 4])
    add_run(db, "rl-step400", pids, [[right] * 4, [wrong] * 4])
    db.close()
    out = json.loads(run("report", str(path), "--trajectory", "--format", "json"))
    assert out["base"] == "base" and out["k"] == 4
    rows = out["rows"]
    assert [r["label"] for r in rows] == ["base", "rl-step50", "rl-step200", "rl-step400",
                                          "ckpt-1000"]
    assert [r["step"] for r in rows] == [None, 50, 200, 400, 1000]
    assert [r["pass_at_1"] for r in rows] == [0.25, 0.25, 0.625, 0.5, 1.0]
    assert rows[0]["pass_at_k"] == 1.0 and rows[2]["pass_at_k"] == 1.0
    assert [r["dse"] for r in rows] == [0.75, 0.75, 0.375, 0.5, 0.0]
    assert rows[0]["coverage"] is None
    assert rows[1]["coverage"] == {"both": 1, "only_base": 1, "only_run": 0, "neither": 0}
    assert rows[4]["coverage"] == {"both": 2, "only_base": 0, "only_run": 0, "neither": 0}
    assert rows[4]["mean_entropy"] == 0.0
    assert math.isclose(rows[0]["mean_entropy"], -(0.25 * math.log(0.25) * 2
                                                   + 0.5 * math.log(0.5)))
    explicit = json.loads(run("report", str(path), "--trajectory", "--order",
                              "rl-step50,base", "--format", "json"))
    assert explicit["base"] == "rl-step50"
    assert [r["label"] for r in explicit["rows"]][:2] == ["rl-step50", "base"]
    table = run("report", str(path), "--trajectory")
    assert "rl-step200" in table and "only base" in table
