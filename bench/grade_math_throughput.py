"""Grade 128,000 math samples (MATH500 x 256) end to end and check verdicts against math-verify.

The samples are built from real material: each is the reasoning of a real Qwen2.5-Math
completion (from the generation file) ending in a boxed answer for a MATH500 problem, drawn per
problem from the reference itself (about 65%), the reference rewritten (``\\dfrac``, spacing,
``x = ...``; about 10%), a small pool of wrong answers taken from the real upstream predictions
and from other problems' answers (about 20%), or no boxed answer at all (about 5%). As in real
sampling, each problem repeats a handful of distinct answers.

The timed part is ``reachscope grade DB --workers N`` run as a subprocess on a SQLite file
holding the samples (process start, reading samples, extraction, math-verify, writing grades).
Then every distinct (reference, extracted answer) pair is graded again with plain math-verify
in this process, and the verdicts compared.

    .venv/bin/python bench/grade_math_throughput.py [--per-problem 256] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reachscope.core.datasets import load_dataset
from reachscope.core.graders.extract import last_boxed
from reachscope.core.graders.math import MathGrader, strip_percent
from reachscope.store import ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run
from reachscope.store.samples import write_samples

GENERATIONS = Path(__file__).resolve().parents[2] / "shared/data/generations/" \
    "qwen25_math_instruct_math_cot_100.jsonl"


def _variants(ref: str) -> list[str]:
    out = {ref.replace("\\frac", "\\dfrac"), ref.replace(" ", ""), f"x = {ref}",
           ref.replace("\\left", "").replace("\\right", "")}
    out.discard(ref)
    return sorted(out) or [ref]


def build(per_problem: int, seed: int = 0) -> tuple[list[ProblemIn], list[list[str]]]:
    """MATH500 problems and ``per_problem`` synthetic-but-real-text completions for each."""
    rng = random.Random(seed)
    records = [json.loads(line) for line in GENERATIONS.open(encoding="utf-8")]
    bodies = []
    for rec in records:
        for text in rec["code"]:
            cut = text.rfind("\\boxed")
            bodies.append(text[:cut] if cut > 0 else text)
    real_preds = sorted({p for rec in records for p in rec["pred"] if p})
    problems = load_dataset("math500").problems
    answers = [p.answer or "" for p in problems]
    completions = []
    for p in problems:
        ref = p.answer or ""
        wrong = rng.sample(real_preds, 3) + rng.sample(answers, 3)
        variants = _variants(ref)
        texts = []
        for _ in range(per_problem):
            body = rng.choice(bodies)
            roll = rng.random()
            if roll < 0.05:
                texts.append(body)  # no final answer
                continue
            answer = ref if roll < 0.70 else rng.choice(variants) if roll < 0.80 \
                else rng.choice(wrong)
            texts.append(f"{body}\\boxed{{{answer}}}$.")
        completions.append(texts)
    return problems, completions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-problem", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    problems, completions = build(args.per_problem)
    n = sum(len(c) for c in completions)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        db = open_db(path)
        with db.atomic():
            pids = upsert_problems(db, "math500", problems)
            run_id, _ = get_or_create_run(db, RunSpec(label="bench", dataset="math500"))
            write_samples(db, run_id, (SampleIn(pid, j, text) for pid, texts in
                                       zip(pids, completions) for j, text in enumerate(texts)))
        db.conn.close()
        print(f"built {n} samples for {len(problems)} problems in {time.perf_counter() - t0:.1f}s")

        t1 = time.perf_counter()
        cmd = [sys.executable, "-m", "reachscope.core.cli", "grade", str(path), "--workers",
               str(args.workers)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        elapsed = time.perf_counter() - t1
        print(" ".join(proc.stderr.split()[-16:]))
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        print(f"END TO END: {n} samples graded in {elapsed:.1f} s with {args.workers} workers "
              f"({1000 * elapsed / n:.3f} ms/sample wall)")

        db = open_db(path, read_only=True)
        stored = {}
        grader = MathGrader()
        for ref, text, verdict, answer in db.execute(
            "SELECT p.answer, s.text, g.verdict, g.answer FROM grades g JOIN samples s ON "
            "s.id = g.sample_id JOIN problems p ON p.id = s.problem_id WHERE g.grader = 'math'"
        ):
            got = grader.extract(text, ref.strip())
            assert got == answer or (got is not None and len(got) > 1000), (got, answer)
            if got is not None:
                stored.setdefault((ref.strip(), got), set()).add(verdict)
        no_box = sum(1 for texts in completions for t in texts if last_boxed(t) is None)
        print(f"distinct (reference, answer) pairs: {len(stored)}; samples without a box: {no_box}")

    from math_verify import parse, verify

    t2 = time.perf_counter()
    mismatches = []
    for (ref, answer), verdicts in stored.items():
        # The strict grader compares the numbers of percentages ("35\\%" states 35).
        (bare_ref, ref_pct), (bare_answer, answer_pct) = strip_percent(ref), strip_percent(answer)
        if ref_pct or answer_pct:
            ref, answer = bare_ref.strip(), bare_answer.strip()
        plain = verify(parse("\\boxed{" + ref + "}"), parse("\\boxed{" + answer + "}"))
        if len(verdicts) != 1 or (next(iter(verdicts)) == "correct") != plain:
            mismatches.append((ref, answer, sorted(verdicts), plain))
    print(f"plain math-verify on every distinct pair: {time.perf_counter() - t2:.1f} s in one "
          f"process; verdict mismatches: {len(mismatches)}")
    for m in mismatches[:20]:
        print("  MISMATCH", m)


if __name__ == "__main__":
    main()
