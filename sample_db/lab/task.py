"""A synthetic, verifiable arithmetic task with a difficulty range.

A problem is a fully parenthesised chain of operations on integers, for example
``What is ((7+5)*3)-4?``. Its difficulty is the number of operations (1 to ``MAX_DIFFICULTY``).
Every intermediate value stays in ``[0, 99]`` and divisions are exact, so the answer is a
non-negative integer and a standard math grader can judge a completion that ends in
``\\boxed{answer}``.

A solution trace is a short chain of thought, one line per operation, in one of several strategies
(direct, or splitting an operand into tens and units). Traces used to train the base model may carry
deliberate arithmetic slips (``noise``): a wrong step result that the rest of the chain then builds
on, so the trace ends in a wrong answer, as imperfect human-written data does.

The test set is a fixed list drawn from its own seed; training problems come from a seeded stream
that skips every problem whose text hash is in the test set, so the two are disjoint by
construction.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_DIFFICULTY = 6
#: Every intermediate value is at most two digits: a sub-million-parameter model learns the
#: arithmetic facts it needs within minutes of CPU training (at three digits it did not).
MAX_VALUE = 99
#: Separates the problem (the prompt) from the solution. The model emits it itself, so a prompt
#: with or without a trailing newline both work.
SEPARATOR = "\n"
#: Longest prompt + separator + trace, in characters (= tokens: the tokenizer is character level),
#: leaving one for the end-of-sequence token. Keeps CPU training and sampling fast.
MAX_CHARS = 120
TEST_SEED = 20250417
TEST_PER_DIFFICULTY = 50
#: Where ``python -m sample_db.lab.task`` writes the test set, for the demo database build.
TEST_PATH = Path(__file__).parent / "data" / "test.jsonl"


@dataclass(frozen=True)
class Step:
    """One operation ``lhs op operand = result``."""

    lhs: int
    op: str
    operand: int
    result: int


@dataclass(frozen=True)
class Problem:
    """A generated problem with its exact answer."""

    text: str
    answer: int
    difficulty: int
    steps: tuple[Step, ...]

    @property
    def uid(self) -> str:
        """A short stable id: a hash of the problem text."""
        return text_hash(self.text)


def text_hash(text: str) -> str:
    """SHA-1 of a problem text (16 hex digits); the key for train/test disjointness."""
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _apply(value: int, op: str, operand: int) -> int:
    if op == "+":
        return value + operand
    if op == "-":
        return value - operand
    if op == "*":
        return value * operand
    return value // operand


def _random_step(rng: random.Random, value: int) -> Step:
    """Draws an operation whose result stays in [0, MAX_VALUE] (and divides exactly)."""
    choices = ["+", "-", "*", "/"]
    weights = [3, 3, 2, 2]
    while True:
        op = rng.choices(choices, weights)[0]
        if op == "+" and value + 2 <= MAX_VALUE:
            operand = rng.randint(2, min(40, MAX_VALUE - value))
        elif op == "-" and value >= 4:
            operand = rng.randint(2, min(40, value))
        elif op == "*" and 2 <= value and value * 2 <= MAX_VALUE:
            operand = rng.randint(2, min(9, MAX_VALUE // value))
        elif op == "/":
            divisors = [d for d in range(2, 10) if value % d == 0 and value // d >= 2]
            if not divisors:
                continue
            operand = rng.choice(divisors)
        else:
            continue
        return Step(value, op, operand, _apply(value, op, operand))


def generate_problem(rng: random.Random, difficulty: int) -> Problem:
    """Generates one problem with ``difficulty`` operations from ``rng``."""
    if not 1 <= difficulty <= MAX_DIFFICULTY:
        raise ValueError(f"difficulty must be in 1..{MAX_DIFFICULTY}, got {difficulty}")
    value = rng.randint(2, 99)
    expr = str(value)
    steps = []
    for i in range(difficulty):
        step = _random_step(rng, value)
        steps.append(step)
        expr = f"{expr}{step.op}{step.operand}"
        if i < difficulty - 1:
            expr = f"({expr})"
        value = step.result
    return Problem(f"What is {expr}?", value, difficulty, tuple(steps))


def test_set(seed: int = TEST_SEED, per_difficulty: int = TEST_PER_DIFFICULTY) -> list[Problem]:
    """The fixed test set: ``per_difficulty`` distinct problems of each difficulty, in order."""
    rng = random.Random(seed)
    problems: list[Problem] = []
    seen: set[str] = set()
    for difficulty in range(1, MAX_DIFFICULTY + 1):
        count = 0
        while count < per_difficulty:
            problem = generate_problem(rng, difficulty)
            if problem.uid in seen:
                continue
            seen.add(problem.uid)
            problems.append(problem)
            count += 1
    return problems


def train_stream(seed: int, difficulties: tuple[int, ...] = tuple(range(1, MAX_DIFFICULTY + 1)),
                 weights: tuple[float, ...] | None = None) -> Iterator[Problem]:
    """An endless seeded stream of training problems, never one whose text is in the test set."""
    rng = random.Random(seed)
    excluded = {p.uid for p in test_set()}
    while True:
        difficulty = rng.choices(difficulties, weights)[0]
        problem = generate_problem(rng, difficulty)
        if problem.uid not in excluded:
            yield problem


def _split_step(step: Step, result: int) -> str:
    """``a op b`` through tens and units where that applies (``36+27=56+7=63``), else direct."""
    a, op, b = step.lhs, step.op, step.operand
    if op in "+-" and b >= 10 and b % 10:
        tens, units = b - b % 10, b % 10
        mid = a + tens if op == "+" else a - tens
        return f"{a}{op}{b}={mid}{op}{units}={result}"
    if op == "*" and a >= 10 and a % 10:
        tens, units = a - a % 10, a % 10
        return f"{a}*{b}={tens * b}+{units * b}={result}"
    return f"{a}{op}{b}={result}"


def _slip(rng: random.Random, value: int) -> int:
    """A plausible arithmetic slip: off by one, two or ten (never negative)."""
    return abs(value + rng.choice([-10, -2, -1, 1, 2, 10]))


def render_solution(problem: Problem, rng: random.Random, noise: float = 0.0,
                    strategy: str | None = None) -> str:
    """A chain-of-thought solution ending in ``\\boxed{...}``.

    Args:
        problem: the problem to solve.
        rng: source of the strategy choice and of slips.
        noise: probability that each step's result is wrong (the chain continues from it).
        strategy: "direct", "split" or "mixed"; drawn at random when None.

    Returns:
        The trace, without the separator before it or an end-of-sequence token after it.
    """
    if strategy is None:
        strategy = rng.choices(["direct", "split", "mixed"], [0.4, 0.3, 0.3])[0]
    lines: list[str] = []
    direct: list[str] = []
    value = problem.steps[0].lhs
    for step in problem.steps:
        # After a slip a division may be inexact; the trace then writes the integer quotient.
        actual = Step(value, step.op, step.operand, _apply(value, step.op, step.operand))
        result = actual.result
        if noise and rng.random() < noise:
            result = _slip(rng, result)
        split = strategy == "split" or (strategy == "mixed" and rng.random() < 0.5)
        lines.append(_split_step(actual, result) if split else
                     f"{actual.lhs}{actual.op}{actual.operand}={result}")
        direct.append(f"{actual.lhs}{actual.op}{actual.operand}={result}")
        value = result
    # Keep prompt + trace within MAX_CHARS: the longest split lines fall back to direct ones.
    budget = MAX_CHARS - len(problem.text) - len(SEPARATOR) - len(f"\\boxed{{{value}}}") - 2
    while sum(len(line) + 1 for line in lines) > budget and lines != direct:
        i = max(range(len(lines)), key=lambda j: len(lines[j]) - len(direct[j]))
        lines[i] = direct[i]
    lines.append(f"\\boxed{{{value}}}")
    return "\n".join(lines)


def is_correct_local(completion: str, answer: int) -> bool:
    """A development-only exact match on the last ``\\boxed{integer}``; the project grader decides
    rewards and metrics (see reward.py)."""
    start = completion.rfind("\\boxed{")
    if start < 0:
        return False
    end = completion.find("}", start)
    inner = completion[start + len("\\boxed{"):end] if end >= 0 else ""
    return inner.strip().lstrip("-").isdigit() and int(inner) == answer


def export_test_set(path: Path = TEST_PATH) -> Path:
    """Writes the test set as JSONL (id, problem, answer, difficulty)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for p in test_set():
            f.write(json.dumps({"id": p.uid, "problem": p.text, "answer": str(p.answer),
                                "difficulty": p.difficulty}) + "\n")
    return path


if __name__ == "__main__":
    print(export_test_set())
