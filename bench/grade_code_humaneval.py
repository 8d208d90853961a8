"""Grade the 16,400 real CodeGen-16B HumanEval completions (164 x 100) in the sandbox.

The completions (microsoft/CodeT's CodeGen-16B samples, T=0.8) continue CodeT's prompts, which
are HumanEval's prompts without the docstring examples; each is matched to its HumanEval task
by the function it defines (the entry point) and run against that task's tests. Prints the
verdict counts, pass@1/10/100 and the time.

    .venv/bin/python bench/grade_code_humaneval.py [--workers 2] [--timeout 3] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
from reachscope.core.datasets import load_dataset
from reachscope.core.graders import GradeTask, GradingPool
from reachscope.core.graders.sandbox import sandbox_mode
from reachscope.core.metrics import pass_at_k_curve

GENERATIONS = Path(__file__).resolve().parents[2] / "shared/data/generations/" \
    "codet_humaneval_codegen16b_t0.8_n100.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    args = parser.parse_args()
    tasks_by_entry = {p.metadata["entry_point"]: p for p in load_dataset("humaneval").problems}
    records = [json.loads(line) for line in GENERATIONS.open(encoding="utf-8")]
    records = records[: args.limit] if args.limit else records
    tasks = []
    for i, rec in enumerate(records):
        entry = re.findall(r"^def (\w+)\(", rec["prompt"], re.MULTILINE)[-1]
        he = tasks_by_entry[entry]
        problem = {"prompt": rec["prompt"], "metadata": {"test": he.metadata["test"],
                                                         "entry_point": entry}}
        tasks += [GradeTask(i * 1000 + j, text, None, problem)
                  for j, text in enumerate(rec["samples"])]
    print(f"{len(tasks)} completions of {len(records)} problems; sandbox: "
          f"{sandbox_mode().describe()}")
    start = time.perf_counter()
    with GradingPool("code", workers=args.workers, options={"timeout": args.timeout}) as pool:
        results = list(pool.imap_unordered(tasks))
        units = pool.units_run
    elapsed = time.perf_counter() - start
    verdicts = Counter(r.verdict for r in results)
    n = np.zeros(len(records), dtype=int)
    c = np.zeros(len(records), dtype=int)
    for r in results:
        n[r.key // 1000] += 1
        c[r.key // 1000] += r.verdict == "correct"
    ks = [1, 10, 100]
    curve = pass_at_k_curve(n, c, ks)
    print(f"verdicts: {dict(verdicts)}  (programs run: {units}, the rest were duplicates)")
    print("  ".join(f"pass@{k} = {v:.4f}" for k, v in zip(ks, curve)))
    print(f"time: {elapsed:.1f} s with {args.workers} workers, timeout {args.timeout:g} s "
          f"({1000 * elapsed / len(tasks):.1f} ms/completion wall)")


if __name__ == "__main__":
    main()
