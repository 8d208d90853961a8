"""The report's evidence sections (issue 11) on a database: time per stage and end to end.

Usage: python bench/evidence_bench.py [DB] [BASE RL]   (default: the demo, lab-arith base vs rl)
Run on a copy of a large database (it is opened read-only, but the report must find m006).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from reachscope.core.analysis import compare
from reachscope.core.commands.report import display_ks
from reachscope.core.evidence_report import evidence, load_run_answers
from reachscope.store import open_db
from reachscope.store.runs import get_run

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "sample_db" / "demo.db"
    refs = sys.argv[2:4] or ["lab-arith/base", "lab-arith/rl"]
    db = open_db(path, read_only=True)
    runs = [get_run(db, r) for r in refs]
    t0 = time.perf_counter()
    cmp = compare(db, runs, bootstrap=1000)
    t1 = time.perf_counter()
    for rc, key in zip(cmp.runs, cmp.keys):
        load_run_answers(db, rc, key)
    t2 = time.perf_counter()
    ks = display_ks(cmp, None)
    evidence(db, cmp.runs, cmp.keys, ks)
    t3 = time.perf_counter()
    print(f"compare (pass@k, coverage, bootstrap): {t1 - t0:.3f} s")
    print(f"answer aggregates read (2 runs):       {t2 - t1:.3f} s")
    print(f"evidence (all metrics, 1000 resamples): {t3 - t2:.3f} s")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "reachscope.core.cli", "report", str(path), *refs,
                    "--format", "json"], check=True, capture_output=True)
    print(f"reachscope report --format json, end to end: {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    main()
