"""Agreement of reachscope's math grading profiles with the upstream scores of a real file.

The file is 100 MATH problems x 8 Qwen2.5-Math-Instruct samples in the Qwen2.5-Math toolkit
format (``code``: completions, ``pred``: upstream extracted answers, ``score``: upstream
verdicts). Each profile (``strict`` = grader ``math``, ``paper`` = ``math-paper``,
``math-verify``) grades every sample; the script prints, per profile, the verdict counts, the
agreement with the upstream scores, the time, and every disagreement with both answers, then a
summary table.

    .venv/bin/python bench/grade_agreement.py [FILE] [--workers N] [--profiles strict paper]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from reachscope.core.graders import GradeResult, GradeTask, GradingPool
from reachscope.core.graders.registry import MATH_PROFILES

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/generations/" \
    "qwen25_math_instruct_math_cot_100.jsonl"
_COLUMNS = ("correct", "incorrect", "no_answer", "timeout", "error")


def _grade(profile: str, tasks: list[GradeTask], workers: int) -> tuple[list[GradeResult], str,
                                                                        float]:
    start = time.perf_counter()
    with GradingPool(MATH_PROFILES[profile], workers=workers) as pool:
        results = list(pool.imap_unordered(tasks))
        version = pool.grader_version
    return results, version, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profiles", nargs="+", choices=tuple(MATH_PROFILES),
                        default=list(MATH_PROFILES))
    args = parser.parse_args()
    records = [json.loads(line) for line in args.file.open(encoding="utf-8")]
    tasks, upstream = [], {}
    for rec in records:
        for j, (text, pred, score) in enumerate(zip(rec["code"], rec["pred"], rec["score"])):
            key = rec["idx"] * 1000 + j
            tasks.append(GradeTask(key, text, rec["gt"]))
            upstream[key] = (bool(score), pred, rec["gt"])
    n = len(tasks)
    up_correct = sum(u[0] for u in upstream.values())
    print(f"file: {args.file.name}  samples: {n}  upstream correct: {up_correct}")
    summary = []
    for profile in args.profiles:
        results, version, seconds = _grade(profile, tasks, args.workers)
        grader = MATH_PROFILES[profile]
        counts = {v: sum(r.verdict == v for r in results) for v in _COLUMNS}
        agree = sum((r.verdict == "correct") == upstream[r.key][0] for r in results)
        print(f"\n== profile {profile} (grader {grader} {version}): agreement {agree}/{n}, "
              f"verdicts {counts}, {seconds:.2f} s with {args.workers} workers "
              f"({1000 * seconds / n:.2f} ms/sample wall)")
        for r in sorted(results, key=lambda r: r.key):
            ok, pred, gt = upstream[r.key]
            if (r.verdict == "correct") != ok:
                print(f"  DISAGREE problem {r.key // 1000} sample {r.key % 1000}: reference "
                      f"{gt!r}; upstream {'correct' if ok else 'incorrect'} (pred {pred!r}); "
                      f"{grader} {r.verdict} (answer {r.answer!r})")
        summary.append((profile, grader, counts, agree, seconds))
    print("\n| profile | grader | " + " | ".join(_COLUMNS) + " | agreement with upstream | "
          "seconds |")
    print("|" + "---|" * (len(_COLUMNS) + 4))
    print(f"| upstream | upstream | {up_correct} | {n - up_correct} | - | - | - | - | - |")
    for profile, grader, counts, agree, seconds in summary:
        cells = " | ".join(str(counts[c]) for c in _COLUMNS)
        print(f"| {profile} | {grader} | {cells} | {agree}/{n} ({100 * agree / n:.2f}%) | "
              f"{seconds:.1f} |")


if __name__ == "__main__":
    main()
