"""Sampled pass@1 (and pass@k) of a lab model on the fixed test set, with transformers' generate.

    python -m sample_db.lab.evaluate sample_db/models/base sample_db/models/rl --problems 60 --n 8

Samples are pure (temperature only, no top-k/top-p) and graded by the project grader. The README's
numbers and the test floor in tests/lab come from here; the demo database's large-n pass@k curves
come from ``reachscope sample``.
"""

from __future__ import annotations

import argparse
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from sample_db.lab import modeling, reward, task


@dataclass
class Evaluation:
    """Correct-sample counts of one model on a list of problems."""

    model: str
    temperature: float
    n: int
    grader: str
    correct: list[int] = field(default_factory=list)
    difficulty: list[int] = field(default_factory=list)

    @property
    def pass_at_1(self) -> float:
        return float(np.mean(self.correct) / self.n)

    def pass_at_k(self, ks: list[int]) -> dict[int, float]:
        from reachscope.core.metrics import pass_at_k_curve

        curve = pass_at_k_curve([self.n] * len(self.correct), self.correct, ks)
        return {k: round(float(v), 4) for k, v in zip(ks, curve)}

    def by_difficulty(self) -> dict[int, float]:
        out = {}
        for d in sorted(set(self.difficulty)):
            counts = [c for c, dd in zip(self.correct, self.difficulty) if dd == d]
            out[d] = round(float(np.mean(counts) / self.n), 4)
        return out


def spread_problems(count: int) -> list[task.Problem]:
    """``count`` test problems spread evenly over the difficulties (the first of each level)."""
    problems = task.test_set()
    per = -(-count // task.MAX_DIFFICULTY)
    chosen = [p for d in range(1, task.MAX_DIFFICULTY + 1)
              for p in [q for q in problems if q.difficulty == d][:per]]
    return chosen[:count]


def generate(model_dir: Path, problems: list[task.Problem], n: int, temperature: float = 1.0,
             seed: int = 0, chunk: int = 16, device: str = "cpu") -> list[list[str]]:
    """``n`` completions per problem (text), sampled in chunks of ``chunk`` problems."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
    torch.manual_seed(seed)
    out: list[list[str]] = []
    for start in range(0, len(problems), chunk):
        part = problems[start:start + chunk]
        out.extend(modeling.sample(model, tokenizer, [p.text for p in part], n, temperature))
    return out


def grade(model: str, problems: list[task.Problem], completions: list[list[str]],
          temperature: float, allow_dev_grader: bool = False) -> Evaluation:
    """Counts each problem's correct completions with the project grader."""
    reward_fn, grader = reward.load_reward(allow_dev_grader)
    result = Evaluation(model, temperature, len(completions[0]), grader)
    for problem, texts in zip(problems, completions):
        result.correct.append(int(sum(reward_fn(t, problem.answer) for t in texts)))
        result.difficulty.append(problem.difficulty)
    return result


def evaluate(model_dir: Path, problems: list[task.Problem], n: int, temperature: float = 1.0,
             seed: int = 0, chunk: int = 16, allow_dev_grader: bool = False) -> Evaluation:
    """Samples ``n`` completions per problem and counts the correct ones.

    Args:
        model_dir: a saved lab model (with its tokenizer).
        problems: the problems; their text is the prompt, verbatim.
        n: samples per problem.
        temperature: sampling temperature.
        seed: torch seed set once before sampling (results depend on the thread count too).
        chunk: problems per ``generate`` call.
        allow_dev_grader: development only, see reward.py.
    """
    completions = generate(model_dir, problems, n, temperature, seed, chunk)
    return grade(str(model_dir), problems, completions, temperature, allow_dev_grader)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--problems", type=int, default=60)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--temperature", type=float, nargs="+", default=[1.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=modeling.DEFAULT_THREADS)
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--chunk", type=int, default=16, help="problems per generate call")
    parser.add_argument("--dump", type=Path,
                        help="only sample, and write the completions here (.jsonl.gz), to grade "
                             "elsewhere with --graded-from (a GPU machine may lack the grader)")
    parser.add_argument("--graded-from", action="store_true",
                        help="MODELS are dumps written by --dump: grade them")
    args = parser.parse_args(argv)
    modeling.setup_cpu(args.threads)
    problems = spread_problems(args.problems)
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256) if k <= args.n]
    results = []
    for temperature in args.temperature:
        for model_dir in args.models:
            if args.dump:
                completions = generate(model_dir, problems, args.n, temperature, args.seed,
                                       args.chunk, args.device)
                args.dump.mkdir(parents=True, exist_ok=True)
                name = f"{model_dir.name}_t{temperature}.jsonl.gz"
                with gzip.open(args.dump / name, "wt") as f:
                    for problem, texts in zip(problems, completions):
                        f.write(json.dumps({"id": problem.uid, "completions": texts}) + "\n")
                continue
            if args.graded_from:
                with gzip.open(model_dir, "rt") as f:
                    by_id = {row["id"]: row["completions"] for row in map(json.loads, f)}
                completions = [by_id[p.uid] for p in problems]
                ev = grade(str(model_dir), problems, completions, temperature)
            else:
                ev = evaluate(model_dir, problems, args.n, temperature, args.seed, args.chunk)
            row = {"model": str(model_dir), "temperature": temperature, "problems": len(problems),
                   "n": ev.n, "grader": ev.grader, "pass@1": round(ev.pass_at_1, 4),
                   "pass@k": ev.pass_at_k([k for k in ks if k <= ev.n]),
                   "pass@1_by_difficulty": ev.by_difficulty(),
                   "solved_any": sum(c > 0 for c in ev.correct)}
            print(json.dumps(row), flush=True)
            results.append(row)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
