"""The report's evidence sections (issue 11): one-time clustering + maj@k cache fill, then the
report per stage and end to end, on the demo and on the 1M-sample bench database.

Usage: python bench/evidence_bench.py [--only demo|1m] [--bench-db PATH] [--fresh]

Both databases are copied first (opening a file for writing migrates it): the demo to a
temporary file, bench/out/tui_bench.db (built by bench/tui_bench.py) to
bench/out/evidence_bench.db, reused on later runs unless --fresh. The fill runs
``reachscope grade --cluster-only`` (clusters what is pending, then caches maj@k); the report
is ``reachscope report --format json`` in a subprocess, best of three, so it includes the
interpreter start and imports (printed apart as the import floor). Figures are printed, not
asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "sample_db" / "demo.db"
BENCH = ROOT / "bench" / "out" / "tui_bench.db"
COPY = ROOT / "bench" / "out" / "evidence_bench.db"


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def cli(*args: str) -> tuple[float, str]:
    """Seconds for one ``reachscope ARGS`` in a fresh interpreter, and what it said on stderr
    (stdout discarded)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "reachscope.core.cli", *args], check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - t, proc.stderr


def copy_db(src: Path, dst: Path) -> None:
    """A consistent copy through SQLite's backup API (the source may be a WAL file)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as s, sqlite3.connect(dst) as d:
        s.backup(d)


def stages(path: Path, refs: list[str]) -> None:
    """The report's parts in this process (imports already paid)."""
    from reachscope.core.analysis import compare
    from reachscope.core.commands.report import display_ks
    from reachscope.core.evidence_report import evidence
    from reachscope.store import open_db
    from reachscope.store.runs import get_run

    db = open_db(path, read_only=True)
    runs = [get_run(db, r) for r in refs]
    t0 = time.perf_counter()
    cmp = compare(db, runs, bootstrap=1000)
    t1 = time.perf_counter()
    ev = evidence(db, cmp.runs, cmp.keys, display_ks(cmp, None))
    t2 = time.perf_counter()
    cached = sum(r.maj_cached for r in ev.runs)
    computed = sum(r.maj_computed for r in ev.runs)
    print(f"  compare (pass@k, coverage, bootstrap):        {t1 - t0:.3f} s")
    print(f"  evidence (all metrics, 1000 resamples):       {t2 - t1:.3f} s "
          f"(maj@k values: {cached} cached, {computed} computed)")
    db.close()


def bench(name: str, path: Path, refs: list[str]) -> None:
    print(f"{name}: {path}")
    print(f"  load before: {load()}")
    fill, said = cli("grade", str(path), "--cluster-only")
    print(f"  one-time: migrate + cluster + maj@k cache fill: {fill:.1f} s "
          "(a file filled before only starts the grading pool)")
    for line in said.splitlines():
        print(f"    {line}")
    stages(path, refs)
    floor = min(cli("--help")[0] for _ in range(3))
    report = min(cli("report", str(path), *refs, "--format", "json")[0] for _ in range(3))
    print(f"  reachscope --help (interpreter + CLI import):  {floor:.3f} s")
    print(f"  reachscope report --format json, end to end:  {report:.3f} s (best of 3)")
    print(f"  load after:  {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["demo", "1m"])
    parser.add_argument("--bench-db", type=Path, default=BENCH)
    parser.add_argument("--fresh", action="store_true", help="copy the bench database again")
    args = parser.parse_args()
    if args.only != "1m":
        with tempfile.TemporaryDirectory() as tmp:
            demo = Path(tmp) / "demo.db"
            shutil.copy(DEMO, demo)
            bench("demo (300 problems x 256, 2 runs)", demo, ["lab-arith/base", "lab-arith/rl"])
    if args.only != "demo":
        if not args.bench_db.exists():
            sys.exit(f"{args.bench_db} is missing: build it with bench/tui_bench.py")
        if args.fresh or not COPY.exists() or os.path.getmtime(COPY) < os.path.getmtime(
                args.bench_db):
            t = time.perf_counter()
            copy_db(args.bench_db, COPY)
            print(f"copied {args.bench_db} -> {COPY} in {time.perf_counter() - t:.0f} s")
        bench("1M bench (500 problems x 1000, 2 runs)", COPY, ["bench/base", "bench/rl"])


if __name__ == "__main__":
    main()
