"""`reachscope import / runs / report` through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from reachscope.core.cli import cli
from reachscope.core.metrics import pass_at_k_curve


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def pair_db(tmp_path: Path) -> Path:
    """Two aggregate runs with a known crossover: rl leads at k=1, base covers more."""
    f = tmp_path / "c.csv"
    rows = ["problem_index,model,n,correct"]
    # base: solves 8 of 10 problems rarely; rl: solves 5 problems often
    for p in range(10):
        rows.append(f"{p},base,16,{1 if p < 8 else 0}")
        rows.append(f"{p},rl,16,{12 if p < 5 else (0 if p != 9 else 2)}")
    f.write_text("\n".join(rows) + "\n")
    db = tmp_path / "t.db"
    run("import", "counts", str(f), "--db", str(db), "--dataset", "toy")
    return db


def test_report_json_shape_and_values(pair_db: Path) -> None:
    out = json.loads(run("report", str(pair_db), "--runs", "base", "--runs", "rl",
                         "--format", "json", "--bootstrap", "200"))
    assert set(out["pass_at_k"]) == {"base", "rl"}
    assert list(out["pass_at_k"]["base"]) == [str(k) for k in range(1, 17)]
    want = pass_at_k_curve([16] * 10, [1] * 8 + [0, 0], [1, 16])
    assert out["pass_at_k"]["base"]["1"] == pytest.approx(want[0], abs=1e-6)
    assert out["pass_at_k"]["base"]["16"] == pytest.approx(0.8)
    assert out["coverage"] == {"k": None, "both": 5, "only": {"base": 3, "rl": 1}, "neither": 1}
    assert out["crossover_k"] is not None and out["crossover_k"] > 1
    bs = out["bootstrap"]
    assert bs["low"]["1"] <= bs["diff"]["1"] <= bs["high"]["1"]
    assert bs["diff"]["1"] > 0  # rl leads at k = 1


def test_report_k_grid_and_formats(pair_db: Path) -> None:
    out = json.loads(run("report", str(pair_db), "base", "rl", "--k", "1,4,16", "--format",
                         "json", "--bootstrap", "0"))
    assert list(out["pass_at_k"]["rl"]) == ["1", "4", "16"] and out["bootstrap"] is None
    csv_out = run("report", str(pair_db), "--runs", "base,rl", "--format", "csv", "--k", "1-3")
    lines = csv_out.strip().splitlines()
    assert lines[0].startswith("k,base,rl") and lines[4] == ""  # then the evidence
    md = run("report", str(pair_db), "--format", "markdown")
    assert "| only rl | 1 |" in md
    table = run("report", str(pair_db))
    assert all(len(line) <= 80 for line in table.splitlines())
    assert "crossover k" in table


def test_report_errors_are_one_line(pair_db: Path, tmp_path: Path) -> None:
    for args, msg in [
        (["report", str(pair_db), "--runs", "nope"], "no run 'nope'"),
        (["report", str(tmp_path / "missing.db")], "no such database"),
        (["report", str(pair_db), "--k", "a,b"], "not a k list"),
        (["report", str(pair_db), "--coverage-k", "4"], "aggregate-only"),
    ]:
        result = CliRunner().invoke(cli, args)
        text = result.output.strip()
        if "aggregate-only" in msg:
            assert result.exit_code == 0 and msg in text
            continue
        assert result.exit_code != 0, text
        assert msg in text and "Traceback" not in text


def test_report_coverage_at_k_from_samples(tmp_path: Path, qwen_file: Path) -> None:
    db = tmp_path / "t.db"
    run("import", "qwen-jsonl", str(qwen_file), "--db", str(db), "--dataset", "m",
        "--label", "a")
    run("import", "qwen-jsonl", str(qwen_file), "--db", str(db), "--dataset", "m",
        "--label", "b")
    out = json.loads(run("report", str(db), "--format", "json", "--coverage-k", "1",
                         "--bootstrap", "50"))
    assert out["pass_at_k"]["a"]["1"] == pytest.approx(0.91)
    assert out["coverage"]["only"] == {"a": 0, "b": 0}
    assert out["coverage_at_k"]["k"] == 1
    solved_full = out["coverage"]["both"]
    assert out["coverage_at_k"]["both"] <= solved_full
    assert out["crossover_k"] is None


def test_runs_listing_and_console_script(pair_db: Path) -> None:
    out = run("runs", str(pair_db), "--json")
    listing = json.loads(out)
    assert {r["label"] for r in listing} == {"base", "rl"}
    assert all(r["aggregate_only"] and r["problems"] == 10 for r in listing)
    proc = subprocess.run([sys.executable, "-m", "reachscope.core.cli", "--help"],
                          capture_output=True, text=True, check=True)
    assert "report" in proc.stdout and "import" in proc.stdout


def test_report_json_carries_full_precision(pair_db: Path) -> None:
    """JSON values are the in-process floats exactly (they were rounded to 6 decimals)."""
    from reachscope.core.analysis import compare
    from reachscope.store import open_db
    from reachscope.store.runs import get_run

    out = json.loads(run("report", str(pair_db), "--runs", "base,rl", "--format", "json",
                         "--bootstrap", "100", "--seed", "3"))
    db = open_db(pair_db, read_only=True)
    cmp = compare(db, [get_run(db, "base"), get_run(db, "rl")], bootstrap=100,
                  seed=3)
    inexact = 0
    for key in ("base", "rl"):
        for k, value in zip(cmp.ks, cmp.curves[key]):
            assert out["pass_at_k"][key][str(k)] == float(value)
            inexact += round(float(value), 6) != float(value)
    assert inexact > 0  # the check would catch rounding
    bs = cmp.bootstrap
    assert bs is not None
    for name, values in (("diff", bs.diff), ("low", bs.low), ("high", bs.high)):
        assert [out["bootstrap"][name][str(k)] for k in bs.ks] == [float(v) for v in values]
    acc = {r["label"]: r["mean_accuracy"] for r in out["runs"]}
    assert acc == {key: float(rc.mean_accuracy()) for key, rc in zip(cmp.keys, cmp.runs)}
    table = run("report", str(pair_db), "--runs", "base,rl", "--format", "csv", "--k", "2")
    assert table.splitlines()[1].split(",")[1] == f"{cmp.curves['base'][1]:.3f}"  # tables round
