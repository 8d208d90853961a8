"""Agreement of reachscope's math grader with the upstream scores of a real generation file.

The file is 100 MATH problems x 8 Qwen2.5-Math-Instruct samples in the Qwen2.5-Math toolkit
format (``code``: completions, ``pred``: upstream extracted answers, ``score``: upstream
verdicts). Prints the agreement, the time per sample, and every disagreement with both answers.

    .venv/bin/python bench/grade_agreement.py [FILE] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from reachscope.core.graders import GradeTask, GradingPool

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/generations/" \
    "qwen25_math_instruct_math_cot_100.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    records = [json.loads(line) for line in args.file.open(encoding="utf-8")]
    tasks, upstream = [], {}
    for rec in records:
        for j, (text, pred, score) in enumerate(zip(rec["code"], rec["pred"], rec["score"])):
            key = rec["idx"] * 1000 + j
            tasks.append(GradeTask(key, text, rec["gt"]))
            upstream[key] = (bool(score), pred, rec["gt"])
    start = time.perf_counter()
    with GradingPool("math", workers=args.workers) as pool:
        started = time.perf_counter()
        results = list(pool.imap_unordered(tasks))
        graded = time.perf_counter()
        version = pool.grader_version
    agree = [r for r in results if (r.verdict == "correct") == upstream[r.key][0]]
    print(f"file: {args.file.name}  samples: {len(tasks)}  grader: math {version}")
    print(f"agreement with upstream scores: {len(agree)}/{len(tasks)}")
    print(f"upstream correct: {sum(u[0] for u in upstream.values())}  reachscope correct: "
          f"{sum(r.verdict == 'correct' for r in results)}")
    verdicts: dict[str, int] = {}
    for r in results:
        verdicts[r.verdict] = verdicts.get(r.verdict, 0) + 1
    print(f"verdicts: {verdicts}")
    n = len(tasks)
    print(f"time: {graded - start:.2f} s end to end with {args.workers} workers "
          f"(pool start {started - start:.2f} s, grading {graded - started:.2f} s = "
          f"{1000 * (graded - started) / n:.2f} ms/sample wall, "
          f"{1000 * (graded - started) * args.workers / n:.2f} ms/sample CPU)")
    for r in sorted(results, key=lambda r: r.key):
        ok, pred, gt = upstream[r.key]
        if (r.verdict == "correct") != ok:
            print(f"  DISAGREE problem {r.key // 1000} sample {r.key % 1000}: reference {gt!r}; "
                  f"upstream {'correct' if ok else 'incorrect'} (pred {pred!r}); "
                  f"reachscope {r.verdict} (answer {r.answer!r})")


if __name__ == "__main__":
    main()
