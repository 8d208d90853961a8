"""Batched sample ingest with 2 KB texts (target >= 50,000 samples/s), and grade ingest.

Usage: python bench/ingest_bench.py [--samples 200000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.grades import write_grades
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run
from reachscope.store.samples import write_samples

WORDS = ("we have the so therefore let equation gives step answer since thus value sum "
         "product square root fraction integer solve multiply divide").split()


def make_texts(count: int, rng: random.Random) -> list[str]:
    """Distinct ~2 KB reasoning-like texts."""
    out = []
    for i in range(count):
        body = " ".join(rng.choice(WORDS) for _ in range(330))
        out.append(f"Step {i}: {body} so the answer is \\boxed{{{rng.randint(0, 999)}}}.")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=5_000)
    args = ap.parse_args()
    rng = random.Random(0)
    texts = make_texts(2_000, rng)  # cycled; each stored row is still a separate 2 KB text
    avg = sum(map(len, texts)) / len(texts)
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "ingest.db")
        n_problems = 500
        per = args.samples // n_problems
        with db.atomic():
            pids = upsert_problems(
                db, "bench", [ProblemIn(i, f"problem {i}", str(i)) for i in range(n_problems)])
            run_id, _ = get_or_create_run(db, RunSpec("base", "bench"))
        rows = [SampleIn(p, j, texts[(p * per + j) % len(texts)], 512, "stop", 0)
                for p in pids for j in range(per)]
        t0 = time.perf_counter()
        for i in range(0, len(rows), args.batch):
            with db.atomic():
                write_samples(db, run_id, rows[i : i + args.batch])
        dt = time.perf_counter() - t0
        print(f"sample ingest: {len(rows):,} samples of ~{avg / 1024:.1f} KB in {dt:.2f} s = "
              f"{len(rows) / dt:,.0f} samples/s (batches of {args.batch:,}, one transaction each)")
        ids = [r[0] for r in db.execute("SELECT id FROM samples ORDER BY id")]
        grades = [GradeIn(s, "math", "correct" if s % 3 == 0 else "incorrect", "1") for s in ids]
        t0 = time.perf_counter()
        for i in range(0, len(grades), args.batch):
            with db.atomic():
                write_grades(db, grades[i : i + args.batch])
        dt = time.perf_counter() - t0
        print(f"grade ingest (counts kept by triggers): {len(grades) / dt:,.0f} grades/s")
        t0 = time.perf_counter()
        with db.atomic():
            again = write_samples(db, run_id, rows[: args.batch])
        print(f"re-writing {args.batch:,} existing samples: {again} inserted, "
              f"{(time.perf_counter() - t0) * 1000:.0f} ms")
        size = (Path(tmp) / "ingest.db").stat().st_size + (Path(tmp) / "ingest.db-wal").stat(
        ).st_size
        print(f"database size: {size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
