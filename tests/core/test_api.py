"""The Python API (`import reachscope`) against the CLI's own output on a copy of the demo."""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from reachscope.core.cli import cli
from reachscope.store import StoreError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "sample_db" / "demo.db"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api") / "demo.db"
    shutil.copyfile(DEMO, path)
    return path


def cli_json(*args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def report(demo: Path) -> dict:  # type: ignore[type-arg]
    return cli_json("report", str(demo), "--runs", "base,rl", "--format", "json",
                    "--bootstrap", "200", "--seed", "3", "--k", "1,2,4,16,256")


def test_import_is_cheap_and_exposes_open() -> None:
    code = ("import sys, reachscope\n"
            "heavy = [m for m in ('pandas', 'numpy', 'textual', 'torch', 'pyarrow') "
            "if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert 'open' in dir(reachscope) and 'Database' in dir(reachscope)\n"
            "print(reachscope.Database.__module__, reachscope.open.__module__)\n"
            "try:\n    reachscope.nothing\nexcept AttributeError as e:\n    print('ok', e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd="/", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "reachscope.core.api reachscope.core.api" in proc.stdout
    assert "ok module 'reachscope' has no attribute 'nothing'" in proc.stdout


def test_read_only_leaves_the_file_untouched(demo: Path) -> None:
    import reachscope

    before = hashlib.sha256(demo.read_bytes()).hexdigest()
    with reachscope.open(demo) as db:
        assert db.read_only and "read-only" in repr(db)
        db.runs()
        next(db.samples("base", page_size=10))
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.conn.execute("DELETE FROM annotations")
    assert hashlib.sha256(demo.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in demo.parent.iterdir()) == ["demo.db"]


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    import reachscope

    with pytest.raises(StoreError, match="no such database"):
        reachscope.open(tmp_path / "missing.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a SQLite database"):
        reachscope.open(junk)
    assert not (tmp_path / "missing.db").exists()


def test_runs_problems_and_counts(demo: Path, report: dict) -> None:  # type: ignore[type-arg]
    import reachscope

    with reachscope.open(demo) as db:
        runs = db.runs()
        assert runs["label"].tolist() == ["base", "rl", "qwen-instruct"]
        assert runs.set_index("label").loc["rl", "samples"] == 300 * 256
        assert db.datasets() == ["lab-arith", "math-cot-100"]
        problems = db.problems("lab-arith")
        assert len(problems) == 300 and problems["idx"].is_monotonic_increasing
        counts = db.counts(["base", "rl"])
        assert set(counts["grader"]) == {"math"} and len(counts) == 600
        acc = counts.groupby("run")["accuracy"].mean()
        for r in report["runs"]:
            assert acc[r["label"]] == pytest.approx(r["mean_accuracy"], rel=1e-12)
        assert set(counts["problem_id"]) <= set(problems["problem_id"])


def test_pass_at_k_and_coverage_equal_the_report(demo: Path, report: dict) -> None:  # type: ignore[type-arg]
    import reachscope

    with reachscope.open(demo) as db:
        df = db.pass_at_k(["base", "rl"], ks=[1, 2, 4, 16, 256], bootstrap=200, seed=3)
        cov = db.coverage("base", "rl").set_index("solved_by")["problems"]
        cov4 = db.coverage("base", "rl", k=4)
    curves = df[df["metric"] == "pass_at_k"]
    for run, curve in report["pass_at_k"].items():
        got = curves[curves["run"] == run].set_index("k")["value"]
        assert {str(k): v for k, v in got.items()} == pytest.approx(curve, rel=1e-12)
    diff = df[df["metric"] == "pass_at_k_difference"].set_index("k")
    assert set(df[df["metric"] == "pass_at_k_difference"]["run"]) == {"rl vs base"}
    for col in ("low", "high"):
        assert {str(k): v for k, v in diff[col].items()} == pytest.approx(
            report["bootstrap"][col], rel=1e-12)
    assert df.attrs["crossover_k"] == report["crossover_k"]
    assert cov["both"] == report["coverage"]["both"]
    assert cov["only base"] == report["coverage"]["only"]["base"]
    assert cov["only rl"] == report["coverage"]["only"]["rl"]
    assert cov.sum() == 300
    assert cov4.attrs["k"] == 4 and cov4["problems"].sum() == 300
    assert cov4.set_index("solved_by")["problems"]["neither"] >= cov["neither"]


def test_samples_are_paged_lazily(demo: Path) -> None:
    import reachscope

    with reachscope.open(demo) as db:
        pages = db.samples("rl", columns=["problem_id", "sample_idx", "verdict"],
                           page_size=1000)
        assert inspect.isgenerator(pages)
        first = next(pages)
        assert len(first) == 1000
        assert first.columns.tolist() == ["run", "dataset", "grader", "problem_id",
                                          "sample_idx", "verdict"]
        assert first["sample_idx"].tolist()[:256] == list(range(256))
        pages.close()
        limited = list(db.samples("rl", page_size=300, limit=700))
        assert [len(p) for p in limited] == [300, 300, 100]
        pid = int(first["problem_id"].iloc[0])
        one = pd.concat(db.samples("rl", problem=pid, page_size=100))
        assert len(one) == 256 and set(one["problem_id"]) == {pid}
        counts = db.counts("rl")
        c = int(counts.set_index("problem_id").loc[pid, "c"])
        assert (one["verdict"] == "correct").sum() == c
        grades = next(db.grades("rl", page_size=50))
        assert len(grades) == 50 and set(grades["grader"]) == {"math"}
        with pytest.raises(StoreError, match="unknown column"):
            next(db.samples("rl", columns=["password"]))


def test_evidence_answers_transitions_equal_the_report(demo: Path, report: dict) -> None:  # type: ignore[type-arg]
    import reachscope

    with reachscope.open(demo) as db:
        ev = db.evidence(["base", "rl"], ks=[1, 2, 4, 16, 256], bootstrap=200, seed=3)
        answers = db.answers(["base", "rl"])
        tr = db.transitions("base", "rl")
        annotations = db.annotations()
    want = report["evidence"]
    for r in want["runs"]:
        maj = ev[(ev["run"] == r["label"]) & (ev["metric"] == "maj_at_k")].set_index("k")
        assert {str(k): v for k, v in maj["value"].items()} == pytest.approx(r["maj_at_k"])
        mean = ev[(ev["run"] == r["label"]) & (ev["metric"] == "mean_entropy")]["value"]
        assert mean.item() == pytest.approx(r["mean_entropy"])
        per = answers[answers["run"] == r["label"]]
        assert per["entropy"].mean() == pytest.approx(r["mean_entropy"])
        assert len(per) == r["problems"]
    pair = want["pairs"][0]
    srr = ev[(ev["run"] == "rl vs base") & (ev["metric"] == "srr")]
    assert srr["value"].item() == pytest.approx(pair["support"]["srr"])
    assert srr["low"].item() == pytest.approx(pair["support"]["intervals"]["srr"]["low"])
    dse = ev[ev["metric"] == "dse"]
    assert dse["value"].item() == pytest.approx(pair["efficiency_gap"]["gap"])
    assert tr.values.tolist() == pair["accuracy_transitions"]["counts"]
    assert tr.index.tolist() == pair["accuracy_transitions"]["labels"]
    # The demo's only labels: the lab step checker's, on its review queue.
    assert set(annotations["reviewer"]) == {"step-checker"} and "label" in annotations.columns


def test_trajectory_equals_report_trajectory(demo: Path) -> None:
    import reachscope

    want = cli_json("report", str(demo), "--runs", "base,rl", "--trajectory", "--format",
                    "json")
    with reachscope.open(demo) as db:
        df = db.trajectory(["base", "rl"])
    assert df.attrs == {"base": want["base"], "k": want["k"]}
    assert df["run"].tolist() == [r["label"] for r in want["rows"]]
    assert df["dse"].tolist() == pytest.approx([r["dse"] for r in want["rows"]])
    assert int(df["only_base"].iloc[1]) == want["rows"][1]["coverage"]["only_base"]


def test_unknown_runs_name_the_known_ones(demo: Path) -> None:
    import reachscope

    with reachscope.open(demo) as db, pytest.raises(StoreError, match="no run 'nope'.*base"):
        db.pass_at_k(["base", "nope"])
