"""A small but realistic two-run database for the app tests, built with the store API."""

from __future__ import annotations

import random
from pathlib import Path

from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.grades import write_grades
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run
from reachscope.store.samples import write_samples

DATASET = "math-mini"
N = 8
SUBJECTS = ["Algebra", "Geometry", "Number Theory", "Prealgebra"]
#: correct samples out of N per problem for (base, rl): p0 only base, p1 only rl, p2 neither.
PLAN = [(1, 0), (0, 3), (0, 0), (2, 8), (5, 7), (8, 8), (3, 6), (1, 4), (6, 8), (4, 5),
        (7, 8), (2, 2)]

PROMPTS = [
    "What is the smallest positive integer $n$ such that $n^2 + {a}n$ is divisible by {b}?",
    "Compute $\\frac{{{a}}}{{{b}}} + \\frac{{1}}{{2}}$ and express it as a common fraction.",
    "A rectangle has perimeter ${a}$ and area ${b}$. What is the length of its diagonal squared?",
    "Find the sum of all real $x$ with $x^2 - {a}x + {b} = 0$.",
]

STEPS = [
    "First, let me restate the problem: we need {what}.",
    "We rewrite the expression as $x^2 - {a}x + {b} = (x - r)(x - s)$ where $r + s = {a}$.",
    "By Vieta's formulas, the sum of the roots is ${a}$ and the product is ${b}$.",
    "Let's check small cases: for $n = 1$ we get ${c}$, which is not divisible by ${b}$.",
    "Now consider the residues modulo ${b}$; only a few of them work.",
    "We can simplify: \\[ \\frac{{{a}}}{{{b}}} = \\frac{{{c}}}{{{d}}} \\]",
    "Alternatively, let me try a different approach and draw the figure.",
    "Wait, I made an arithmetic slip above; recomputing gives ${c}$.",
    "So the candidate answers are ${c}$ and ${d}$, and we must pick the valid one.",
]


def make_trace(rng: random.Random, answer: str, style: int, boxed: bool = True) -> str:
    """A chain-of-thought looking completion (about 0.6-1.5 KB) ending in ``\\boxed{answer}``."""
    a, b, c, d = (rng.randint(2, 40) for _ in range(4))
    fmt = {"a": a, "b": b, "c": c, "d": d, "what": "the value asked for"}
    steps = [STEPS[0]] + [STEPS[(style + i) % (len(STEPS) - 1) + 1] for i in range(3 + style % 3)]
    body = "\n\n".join(s.format(**fmt) for s in steps)
    end = f"\n\nTherefore, the final answer is $\\boxed{{{answer}}}$." if boxed else \
        "\n\nLet me keep going with the case analysis, since the"
    return f"{body}\n\nPutting this together, we get {answer} after simplifying.{end}"


def build_db(path: Path, live: bool = False) -> dict[str, int]:
    """Build the fixture database; returns run ids by label.

    With ``live`` a third run ``rl-live`` (status running, target 8 per problem) is added with
    only its first two samples of each problem stored.
    """
    rng = random.Random(7)
    db = open_db(path)
    with db.atomic():
        problems = [
            ProblemIn(idx=i, prompt=PROMPTS[i % 4].format(a=i + 3, b=2 * i + 5),
                      answer=str(10 + 3 * i),
                      metadata={"level": f"Level {1 + i % 5}", "subject": SUBJECTS[i % 4]})
            for i in range(len(PLAN))
        ]
        pids = upsert_problems(db, DATASET, problems)
        ids = {}
        for r, (label, model) in enumerate([("base", "Qwen2.5-7B"), ("rl", "Qwen2.5-7B-RL")]):
            run_id, _ = get_or_create_run(db, RunSpec(
                label=label, dataset=DATASET, model=model, n_target=N, status="finished",
                primary_grader="math"))
            ids[label] = run_id
            for pi, pid in enumerate(pids):
                write_problem_samples(db, run_id, pid, problems[pi].answer or "", PLAN[pi][r],
                                      range(N), rng, style_base=r)
        if live:
            run_id, _ = get_or_create_run(db, RunSpec(
                label="rl-live", dataset=DATASET, model="Qwen2.5-7B-RL", n_target=N,
                status="running", primary_grader="math"))
            ids["rl-live"] = run_id
            for pi, pid in enumerate(pids):
                write_problem_samples(db, run_id, pid, problems[pi].answer or "", 1, range(2),
                                      rng, style_base=1)
    db.close()
    return ids


def write_problem_samples(db, run_id: int, pid: int, answer: str, n_correct: int,
                          indices: range, rng: random.Random, style_base: int) -> None:
    """Store and grade samples ``indices`` of one (run, problem); the first ``n_correct`` are
    right, the rest give one of two wrong answers or, now and then, no answer at all."""
    samples, verdicts = [], []
    for j in indices:
        ok = j < n_correct
        truncated = not ok and j % 5 == 4
        got = answer if ok else str(int(answer) + (1 if j % 2 else -3))
        text = make_trace(rng, got, style=style_base * 2 + j, boxed=not truncated)
        samples.append(SampleIn(problem_id=pid, sample_idx=j, text=text, n_tokens=len(text) // 4,
                                finish_reason="length" if truncated else "stop"))
        verdicts.append(("no_answer", None) if truncated else
                        ("correct" if ok else "incorrect", got))
    write_samples(db, run_id, samples)
    sids = dict(db.execute("SELECT sample_idx, id FROM samples WHERE run_id = ? AND problem_id = ?",
                           [run_id, pid]).fetchall())
    write_grades(db, [GradeIn(sample_id=sids[j], grader="math", verdict=v, answer=a)
                      for j, (v, a) in zip(indices, verdicts)])
