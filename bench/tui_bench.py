"""Benchmark of the app on a large database (figures printed, nothing asserted).

Builds (once, cached in bench/out/) 500 problems x 1000 samples x 2 runs of 1-2 KB traces with
the store API, plus a running run for the live test, then measures in fresh processes:

* cold start to the first interactive screen (and to the curves being drawn),
* problem-table filter and sort, opening a problem with 2,000 samples,
* peak RSS of the browsing session,
* live latency from a grade committed by another process to the curve changing.

usage: python bench/tui_bench.py [--rebuild]   (``--help`` for the options)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"
DB = OUT / "tui_bench.db"
PROBLEMS, SAMPLES = 500, 1000
LIVE_PROBLEMS = 500

WORDS = ("we note that the sum of the roots is given by Vieta so the product equals hence "
         "substituting back into the original equation yields therefore it follows that since "
         "the discriminant must be nonnegative we obtain a quadratic in x and simplify").split()


def trace(rng: random.Random, answer: int) -> str:
    parts, size, target = [], 0, rng.randint(1000, 2000)
    while size < target:
        sent = " ".join(rng.choices(WORDS, k=rng.randint(8, 20)))
        math = f" $x^{rng.randint(2, 5)} + {rng.randint(1, 99)}x = {rng.randint(1, 999)}$."
        parts.append(sent.capitalize() + math)
        size += len(parts[-1]) + 2
    parts.append(f"Therefore the answer is $\\boxed{{{answer}}}$.")
    return "\n\n".join(parts)


def build() -> None:
    from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
    from reachscope.store.grades import write_grades
    from reachscope.store.problems import upsert_problems
    from reachscope.store.runs import get_or_create_run
    from reachscope.store.samples import write_samples

    OUT.mkdir(parents=True, exist_ok=True)
    tmp = DB.with_suffix(".tmp")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    rng = random.Random(0)
    db = open_db(tmp)
    t0 = time.perf_counter()
    with db.atomic():
        pids = upsert_problems(db, "bench", [
            ProblemIn(idx=i, prompt=f"Problem {i}: solve $x^2 + {i}x = {i * 7}$ for x.",
                      answer=str(i), metadata={"level": f"Level {1 + i % 5}",
                                               "subject": ["Algebra", "Geometry"][i % 2]})
            for i in range(PROBLEMS)])
    runs = {}
    for label in ("base", "rl"):
        runs[label], _ = get_or_create_run(db, RunSpec(
            label=label, dataset="bench", model=label, n_target=SAMPLES, status="finished",
            primary_grader="math"))
    live_id, _ = get_or_create_run(db, RunSpec(
        label="rl-live", dataset="bench", model="rl", n_target=8, status="running",
        primary_grader="math"))
    for label, skill in (("base", 0.35), ("rl", 0.55)):
        for i, pid in enumerate(pids):
            p = rng.random() * skill * 2 if i % 7 else 0.0
            with db.atomic():
                samples = []
                for j in range(SAMPLES):
                    ok = rng.random() < p
                    samples.append(SampleIn(problem_id=pid, sample_idx=j, finish_reason="stop",
                                            text=trace(rng, i if ok else i + 1 + j % 3),
                                            n_tokens=400))
                write_samples(db, runs[label], samples)
                ids = dict(db.execute(
                    "SELECT sample_idx, id FROM samples WHERE run_id = ? AND problem_id = ?",
                    [runs[label], pid]).fetchall())
                write_grades(db, [
                    GradeIn(ids[s.sample_idx], "math", "correct" if s.text.endswith(f"{{{i}}}$.")
                            else "incorrect", answer=s.text.rsplit("{", 1)[1].split("}")[0])
                    for s in samples])
            if i % 50 == 0:
                print(f"  {label}: {i}/{PROBLEMS} problems ({time.perf_counter() - t0:.0f} s)",
                      flush=True)
    with db.atomic():
        for pid in pids[:LIVE_PROBLEMS]:
            write_samples(db, live_id, [SampleIn(pid, j, trace(rng, 0)) for j in range(2)])
            ids = [r[0] for r in db.execute(
                "SELECT id FROM samples WHERE run_id = ? AND problem_id = ?", [live_id, pid])]
            write_grades(db, [GradeIn(ids[0], "math", "correct", "0"),
                                     GradeIn(ids[1], "math", "incorrect", "1")])
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    tmp.rename(DB)
    print(f"built {DB} ({DB.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s")


# ------------------------------------------------------------------ the measured app session

WRITER = """
import sys, time
from reachscope.store import GradeIn, SampleIn, open_db
from reachscope.store.grades import write_grades
from reachscope.store.runs import get_run
from reachscope.store.samples import write_samples
db = open_db(sys.argv[1])
run = get_run(db, "rl-live")
pids = [r[0] for r in db.execute("SELECT id FROM problems WHERE dataset = 'bench' ORDER BY id")]
for t in range(int(sys.argv[2])):
    time.sleep(1.3)
    pid = pids[t]
    with db.atomic():
        write_samples(db, run.id, [SampleIn(pid, 10 + t, "late sample \\\\boxed{0}")])
        sid = db.execute("SELECT id FROM samples WHERE run_id = ? AND problem_id = ? AND "
                         "sample_idx = ?", [run.id, pid, 10 + t]).fetchone()[0]
        write_grades(db, [GradeIn(sid, "math", "correct", "0")])
    print(time.monotonic(), flush=True)
db.close()
"""


async def session(db_path: str, spawned_at: float) -> dict[str, float]:
    """Run in a fresh process: every in-app figure."""
    # Only what the first screen needs: the app imports the others when they are first opened,
    # and so does this session (after the cold-start figures).
    from reachscope.tui.app import create_app
    from reachscope.tui.screens.compare import CompareScreen
    from textual.widgets import DataTable

    out: dict[str, float] = {}
    app = create_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        # Interactive: the Compare screen is mounted, its summary table holds the runs' figures
        # and the screen has processed its messages and been drawn. (`pilot.pause()` with no
        # delay would also wait for the whole process to go idle, i.e. for the comparison that a
        # worker computes meanwhile: that is the next figure.)
        while not (isinstance(app.screen, CompareScreen) and app.screen.is_mounted
                   and app.screen.query_one("#summary", DataTable).row_count):
            await pilot.pause(0.005)
        await pilot.pause(0)
        out["cold_start_interactive_s"] = time.time() - spawned_at
        screen = app.screen
        while screen.comparison is None:
            await pilot.pause(0.005)
        await pilot.pause(0)
        out["cold_start_curves_s"] = time.time() - spawned_at

        await pilot.press("p")
        problems = app.screen
        while not problems.lines:
            await pilot.pause(0.005)
        await pilot.pause()
        timings = []
        for sort, reverse, category in (("delta", True, "all"), ("a", False, "only_b"),
                                        ("idx", False, "all"), ("b", True, "neither"),
                                        ("subject", False, "both")):
            t = time.perf_counter()
            problems.query_state.sort, problems.query_state.reverse = sort, reverse
            problems.query_state.category = category
            problems.refilter()
            await pilot.pause()
            timings.append(time.perf_counter() - t)
        out["filter_sort_median_ms"] = statistics.median(timings) * 1000
        out["filter_sort_max_ms"] = max(timings) * 1000
        # The answers view (issue 11): each run's entropy, distinct answers and truncated share,
        # their sorts and the answer-evidence filters (the first step builds the view's cells).
        problems.answers_view = True
        timings = []
        for sort, reverse, evidence in (("b_entropy", True, "none"),
                                        ("a_distinct", False, "confidently_wrong"),
                                        ("a_trunc", True, "truncated_failures"),
                                        ("b_distinct", False, "none"),
                                        ("a_entropy", False, "confidently_wrong")):
            t = time.perf_counter()
            q = problems.query_state
            q.sort, q.reverse, q.evidence, q.category = sort, reverse, evidence, "all"
            problems.refilter()
            await pilot.pause()
            timings.append(time.perf_counter() - t)
        out["answers_filter_sort_median_ms"] = statistics.median(timings) * 1000
        out["answers_filter_sort_max_ms"] = max(timings) * 1000
        problems.answers_view, problems.query_state.evidence = False, "none"

        from reachscope.tui.screens.live import LiveScreen
        from reachscope.tui.screens.problem import ProblemScreen

        pid = problems.lines[len(problems.lines) // 2].id
        opened = []
        for _ in range(3):
            # The way the Problems screen opens one (the app keeps one Problem screen and turns
            # it to the problem asked for, emptied first: `samples` fills when the load lands).
            t = time.perf_counter()
            app.open_problem(pid)
            assert isinstance(app.screen, ProblemScreen) and app.screen.problem_id == pid
            while not app.screen.samples:
                await pilot.pause(0.002)
            await pilot.pause()
            opened.append(time.perf_counter() - t)
            assert len(app.screen.samples) == 2 * SAMPLES
            app.pop_screen()
        out["open_problem_2000_samples_ms"] = statistics.median(opened) * 1000
        out["open_problem_first_ms"] = opened[0] * 1000

        # Live: another process commits a grade every 1.3 s; time until the curve moves.
        while len(app.screen_stack) > 2:
            app.pop_screen()
        app.push_screen(LiveScreen())
        live = app.screen
        while live.curves_changed_at is None:
            await pilot.pause(0.01)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, db_path, "5"],
                                  stdout=subprocess.PIPE, text=True)
        changes, last = [], live.curves_changed_at
        deadline = None
        while len(changes) < 5 and (deadline is None or time.monotonic() < deadline):
            await pilot.pause(0.01)
            if live.curves_changed_at != last:
                last = live.curves_changed_at
                changes.append(last)
            if deadline is None and writer.poll() is not None:
                deadline = time.monotonic() + 5.0
        commits = [float(x) for x in writer.communicate()[0].split()]
        lat = [min((c for c in changes if c >= t), default=float("nan")) - t for t in commits]
        out["live_latency_median_s"] = statistics.median(lat)
        out["live_latency_max_s"] = max(lat)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"The database is built once into {DB} (about 2 GB, a few minutes) and reused; "
               "each measurement runs on a scratch copy next to it, in a fresh process.")
    parser.add_argument("--rebuild", action="store_true",
                        help="build the benchmark database again (after a schema change)")
    # Internal: the measured session, run by the parent in a fresh interpreter.
    parser.add_argument("--session", nargs=2, metavar=("DB", "SPAWNED_AT"),
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.session:
        figures = asyncio.run(session(args.session[0], float(args.session[1])))
        print("FIGURES " + json.dumps(figures))
        return
    if args.rebuild or not DB.exists():
        build()
    # An installed app (or any run without PYTHONDONTWRITEBYTECODE, which this sandbox sets)
    # loads its modules from bytecode: the cold start measures starting the app, not compiling
    # reachscope's sources (about 0.1 s). The __pycache__ folders are git-ignored.
    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    *(str(ROOT / d) for d in ("core", "store", "tui"))], check=True,
                   stdout=subprocess.DEVNULL)
    # The live step writes to the database: measure on a scratch copy.
    import shutil

    scratch = OUT / "tui_bench_scratch.db"
    # A WAL left by the last run's writer would be replayed onto the fresh copy, and the live
    # step's writes (idempotent) would then change nothing.
    for stale in (Path(f"{scratch}-wal"), Path(f"{scratch}-shm")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(DB, scratch)
    # The copy leaves ~2 GB of dirty pages that the kernel writes back for several seconds:
    # flushed first, so that the measured session does not share the disk with them.
    os.sync()
    t = time.time()
    proc = subprocess.run([sys.executable, __file__, "--session", str(scratch), str(t)],
                          capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FIGURES ")), None)
    if line is None:
        sys.exit(proc.stdout[-3000:] + proc.stderr[-3000:])
    figures = json.loads(line[len("FIGURES "):])
    targets = {"cold_start_interactive_s": 1.0, "filter_sort_median_ms": 100,
               "filter_sort_max_ms": 100, "open_problem_2000_samples_ms": 300,
               "answers_filter_sort_median_ms": 100,
               "peak_rss_mb": 300, "live_latency_max_s": 2.0}
    print(f"database: {DB} ({DB.stat().st_size / 1e9:.2f} GB), {PROBLEMS} problems x "
          f"{SAMPLES} samples x 2 runs (reachscope's bytecode written beforehand)")
    for key, value in figures.items():
        target = f"  (target <= {targets[key]})" if key in targets else ""
        print(f"{key:32s} {value:10.3f}{target}")


if __name__ == "__main__":
    main()
