"""Grade the 16,400 real CodeGen-16B HumanEval completions (164 x 100) in the sandbox.

The completions (microsoft/CodeT's CodeGen-16B samples, T=0.8) continue CodeT's prompts, which
are HumanEval's prompts without the docstring examples. Each record is matched to its HumanEval
task by its ``task_id`` where it has one, else by prompt (``match_tasks``: the task whose prompt
shares the longest prefix with the record's, covering its last ``def`` line; a tie is refused,
since six HumanEval function names repeat), and each completion is run after the shipped
HumanEval prompt, against that task's tests, as the official harness does. Prints the verdict
counts, pass@1/10/100 and the time.

    .venv/bin/python bench/grade_code_humaneval.py [--workers 2] [--timeout 3] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from reachscope.core.datasets import load_dataset
from reachscope.core.graders import GradeTask, GradingPool
from reachscope.core.graders.sandbox import sandbox_mode
from reachscope.core.metrics import pass_at_k_curve

GENERATIONS = Path(__file__).resolve().parents[2] / "shared/data/generations/" \
    "codet_humaneval_codegen16b_t0.8_n100.jsonl"


def match_tasks(records: list[dict[str, Any]], problems: list[Any],
                label: str = "record") -> list[Any]:
    """The HumanEval problem of each record: by ``task_id``, else by prompt.

    Raises:
        ValueError: a record whose task id is unknown, whose prompt matches no task (the
            common prefix does not reach the prompt's last ``def`` line), or matches two.
    """
    by_id = {p.metadata["task_id"]: p for p in problems}
    matched = []
    for line, rec in enumerate(records, 1):
        if rec.get("task_id") is not None:
            if rec["task_id"] not in by_id:
                raise ValueError(f"{label} {line}: unknown task_id {rec['task_id']!r}")
            matched.append(by_id[rec["task_id"]])
            continue
        prompt = rec["prompt"]
        need = prompt.rfind("\ndef ") + 1  # the signature of the last function must match
        scored = sorted(((len(os.path.commonprefix([prompt, p.prompt])), i)
                         for i, p in enumerate(problems)), reverse=True)
        (best, i), (second, _) = scored[0], scored[1]
        end = prompt.find("\n", need) if need else len(prompt)
        if best < max(end, 1):
            raise ValueError(f"{label} {line}: its prompt matches no HumanEval task")
        if best == second:
            raise ValueError(f"{label} {line}: its prompt matches several HumanEval tasks")
        matched.append(problems[i])
    return matched


def load_tasks(path: Path, limit: int | None = None) -> tuple[list[GradeTask], int]:
    """Grading tasks (key = record * 1000 + sample) and the number of records."""
    problems = load_dataset("humaneval").problems
    records = [json.loads(line) for line in path.open(encoding="utf-8")]
    records = records[:limit] if limit else records
    tasks = []
    for i, (rec, he) in enumerate(zip(records, match_tasks(records, problems, path.name))):
        meta = he.metadata
        problem = {"prompt": he.prompt, "metadata": meta, "task_id": meta["task_id"],
                   "test": meta["test"], "entry_point": meta["entry_point"],
                   "canonical_solution": meta["canonical_solution"]}
        tasks += [GradeTask(i * 1000 + j, text, None, problem)
                  for j, text in enumerate(rec["samples"])]
    return tasks, len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    args = parser.parse_args()
    tasks, n_records = load_tasks(GENERATIONS, args.limit)
    print(f"{len(tasks)} completions of {n_records} problems; sandbox: "
          f"{sandbox_mode().describe()}")
    start = time.perf_counter()
    with GradingPool("code", workers=args.workers, options={"timeout": args.timeout}) as pool:
        results = list(pool.imap_unordered(tasks))
        units = pool.units_run
    elapsed = time.perf_counter() - start
    verdicts = Counter(r.verdict for r in results)
    n = np.zeros(n_records, dtype=int)
    c = np.zeros(n_records, dtype=int)
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
