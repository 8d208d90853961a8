"""The demo database: the committed file, and its build script in fast mode."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from reachscope.core.analysis import compare
from reachscope.store import open_db
from reachscope.store.counts import run_counts, sample_totals
from reachscope.store.runs import list_runs, run_summaries
from reachscope.store.schema import MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]


def assert_sample_counts(db) -> None:  # noqa: ANN001
    """m004 applied, and the trigger-kept sample counts equal to a scan."""
    assert "m004_sample_counts" in {m.name for m in MIGRATIONS.applied(db)}
    scanned = {int(r): (int(n), int(p)) for r, n, p in db.execute(
        "SELECT run_id, count(*), count(DISTINCT problem_id) FROM samples GROUP BY run_id")}
    assert sample_totals(db) == scanned


def test_fast_build_makes_a_complete_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo.db"
    proc = subprocess.run([sys.executable, str(ROOT / "sample_db" / "build.py"), "--fast",
                           "--quiet", "--out", str(out)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(tmp_path.glob("tmp*")), "build left temporaries behind"
    db = open_db(out, read_only=True)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert db.execute("PRAGMA page_size").fetchone()[0] == 16384
    assert MIGRATIONS.pending(db) == []  # a fresh build has every migration
    assert_sample_counts(db)
    runs = {r.ref: r for r in list_runs(db)}
    assert set(runs) == {"lab-arith/base", "lab-arith/rl", "math-cot-100/qwen-instruct"}
    for label in ("base", "rl"):
        run = runs[f"lab-arith/{label}"]
        assert run.status == "finished" and run.model == f"sample_db/models/{label}"
        counts = run_counts(db, run.id, "math")
        assert len(counts) == 6 and all(n == 8 for n, _ in counts.values())
    qwen = runs["math-cot-100/qwen-instruct"]
    assert sum(c for _, c in run_counts(db, qwen.id, "upstream").values()) == 728
    assert sum(c for _, c in run_counts(db, qwen.id, "math").values()) == 729
    cmp = compare(db, [runs["lab-arith/base"], runs["lab-arith/rl"]], bootstrap=0)
    assert cmp.coverage is not None and len(cmp.shared_problems) == 6


def test_committed_demo_database(tmp_path: Path) -> None:
    copy = tmp_path / "demo.db"
    shutil.copy(ROOT / "sample_db" / "demo.db", copy)
    db = open_db(copy, read_only=True)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert db.execute("PRAGMA page_size").fetchone()[0] == 16384
    assert_sample_counts(db)
    summaries = {s.run.ref: s for s in run_summaries(db)}
    assert summaries["math-cot-100/qwen-instruct"].samples == 800
    for label in ("base", "rl"):
        s = summaries[f"lab-arith/{label}"]
        assert s.problems >= 200 and s.samples >= 200 * 256
        assert s.run.n_target is not None and s.run.n_target >= 256
