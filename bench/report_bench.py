"""`reachscope report` on a 1,000,000-sample database (target <= 0.5 s).

Builds (once, cached in bench/out/report_1m.db) 500 problems x 1000 samples x 2 runs with
graded samples through the store API, then times the report: in-process (`compare` + JSON) and
as the whole `reachscope report` command (interpreter start included).

Usage: python bench/report_bench.py [--rebuild]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.grades import write_grades
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run, get_run
from reachscope.store.samples import write_samples

OUT = Path(__file__).resolve().parent / "out" / "report_1m.db"
PROBLEMS, N = 500, 1000


def build(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    rng = random.Random(0)
    db = open_db(path)
    with db.atomic():
        pids = upsert_problems(
            db, "bench", [ProblemIn(i, f"problem {i}: what is {i} + {i}?", str(2 * i))
                          for i in range(PROBLEMS)])
    for label, skill in (("base", 0.25), ("rl", 0.45)):
        with db.atomic():
            run_id, _ = get_or_create_run(
                db, RunSpec(label, "bench", model=label, primary_grader="math", n_target=N))
        for pid in pids:
            p = min(1.0, rng.betavariate(0.4, 1.2) * skill * 2.5)
            with db.atomic():
                write_samples(db, run_id, [
                    SampleIn(pid, j, f"reasoning {pid}.{j} ... \\boxed{{{j % 7}}}", 64, "stop")
                    for j in range(N)])
                ids = [r[0] for r in db.execute(
                    "SELECT id FROM samples WHERE run_id = ? AND problem_id = ?", [run_id, pid])]
                write_grades(db, [
                    GradeIn(s, "math", "correct" if rng.random() < p else "incorrect", "1")
                    for s in ids])
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n = db.execute("SELECT count(*) FROM samples").fetchone()[0]
    print(f"built {path} with {n:,} samples ({path.stat().st_size / 1e6:.0f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    if args.rebuild or not OUT.exists():
        t0 = time.perf_counter()
        build(OUT)
        print(f"  build time {time.perf_counter() - t0:.1f} s")
    from reachscope.core.analysis import compare
    from reachscope.core.commands.report import to_json

    db = open_db(OUT, read_only=True)
    runs = [get_run(db, "base"), get_run(db, "rl")]
    for bootstrap in (0, 1000):
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            to_json(compare(db, runs, bootstrap=bootstrap))
            best = min(best, time.perf_counter() - t0)
        print(f"report in-process (k = 1..{N}, bootstrap {bootstrap}): {best * 1000:.0f} ms")
    exe = Path(sys.executable).parent / "reachscope"
    for extra in (["--bootstrap", "0"], []):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([str(exe), "report", str(OUT), "--format", "json", *extra],
                           check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
        print(f"`reachscope report --format json {' '.join(extra)}` end to end: "
              f"{min(times) * 1000:.0f} ms (best of 3, interpreter start included)")


if __name__ == "__main__":
    main()
