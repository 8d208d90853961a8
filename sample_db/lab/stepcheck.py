"""A step checker for lab traces: is every line of a solution a true step of its problem?

A lab problem is a chain of operations (``What is ((7+5)*3)-4?``) and a trace writes one line
per operation, directly (``12*3=36``) or through tens and units (``36+27=56+7=63``,
``36*3=90+18=108``), then ``\\boxed{answer}`` (see task.py). The checker recomputes each
line: its operation and operand must be the problem's next ones, applied to the previous
line's result (the problem's first number for the first line), and every ``=``-separated part
must have the value of that operation, with exact integer arithmetic (a division must be
exact). The boxed answer must be the last line's result.

A trace that passes is ``valid``; one that reaches the right answer through a wrong step (two
slips that cancel, a wrong intermediate result that the next line ignores) is ``flawed``; a
trace with no step lines at all is a ``guess``. The demo database's review queue is labelled by
this checker (reviewer ``step-checker``), not by a person.

usage: python -m sample_db.lab.stepcheck DB [--queue review]   (labels the queue's samples)
"""

from __future__ import annotations

import argparse
import operator
import re
from fractions import Fraction
from pathlib import Path

OPS = "+-*/"
#: Exact arithmetic on Fractions (a division that is not exact stays a fraction).
_APPLY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_TERM = re.compile(r"^(-?\d+)(?:([-+*/])(\d+))?$")
_PROBLEM_TOKENS = re.compile(r"\d+|[-+*/]")


def problem_steps(text: str) -> tuple[int, list[tuple[str, int]]]:
    """The first number and the ``(op, operand)`` chain of a lab problem's text.

    Raises:
        ValueError: not a lab problem (``What is <chain>?``).
    """
    body = text.strip()
    if not (body.startswith("What is ") and body.endswith("?")):
        raise ValueError(f"not a lab problem: {text!r}")
    tokens = _PROBLEM_TOKENS.findall(body[len("What is "):-1].replace("(", "").replace(")", ""))
    if not tokens or not tokens[0].isdigit() or len(tokens) % 2 == 0:
        raise ValueError(f"not a lab problem: {text!r}")
    pairs = [(tokens[i], int(tokens[i + 1])) for i in range(1, len(tokens), 2)]
    if any(op not in OPS for op, _ in pairs):
        raise ValueError(f"not a lab problem: {text!r}")
    return int(tokens[0]), pairs


def _value(term: str) -> Fraction | None:
    """The value of ``a`` or ``a op b`` (None: not such a term, or a division by zero)."""
    m = _TERM.match(term.strip())
    if m is None:
        return None
    a = Fraction(int(m.group(1)))
    if m.group(2) is None:
        return a
    b = Fraction(int(m.group(3)))
    if m.group(2) == "/" and not b:
        return None
    return _APPLY[m.group(2)](a, b)


def check_trace(problem: str, trace: str) -> tuple[str, str]:
    """``(label, reason)`` for one trace of a lab problem: ``valid``, ``flawed`` or ``guess``."""
    value, steps = problem_steps(problem)
    lines = [ln.strip() for ln in trace.strip().splitlines() if ln.strip()]
    boxed = [ln for ln in lines if ln.startswith("\\boxed{")]
    work = [ln for ln in lines if not ln.startswith("\\boxed{")]
    if not work:
        return "guess", "no step lines"
    if len(boxed) != 1 or lines[-1] != boxed[0]:
        return "flawed", "not one final \\boxed{} line"
    if len(work) != len(steps):
        return "flawed", f"{len(work)} step lines for {len(steps)} operations"
    current = Fraction(value)
    for i, (line, (op, operand)) in enumerate(zip(work, steps), start=1):
        parts = line.split("=")
        m = _TERM.match(parts[0].strip())
        if len(parts) < 2 or m is None or m.group(2) is None:
            return "flawed", f"line {i} is not 'a{op}b=...': {line!r}"
        if (Fraction(int(m.group(1))), m.group(2), int(m.group(3))) != (current, op, operand):
            return "flawed", f"line {i} computes {parts[0]!r}, the problem's step is " \
                             f"{current}{op}{operand}"
        exact = _value(parts[0])
        if exact is None or exact.denominator != 1:
            return "flawed", f"line {i}: {parts[0]} is not an exact integer step"
        for part in parts[1:]:
            if _value(part) != exact:
                return "flawed", f"line {i}: {part.strip()!r} is not {exact}"
        current = exact
    answer = boxed[0][len("\\boxed{"):].rstrip("}").strip()
    if re.fullmatch(r"-?\d+", answer) is None or int(answer) != current:
        return "flawed", f"boxed {answer!r} is not the last result {current}"
    return "valid", "every step recomputed"


def label_queue(db_path: Path, queue: str = "review", reviewer: str = "step-checker") -> dict:
    """Label every item of a review queue with :func:`check_trace`; returns counts per label."""
    from reachscope.store import open_db
    from reachscope.store import review as store_review
    from reachscope.store.annotations import set_labels
    from reachscope.store.problems import problems_of
    from reachscope.store.samples import sample_text

    db = open_db(db_path)
    try:
        match = [q for q in store_review.list_queues(db) if q.name == queue]
        if not match:
            raise SystemExit(f"{db_path}: no review queue named {queue!r}")
        items, after = [], -1
        while page := store_review.queue_items(db, match[0].id, after, 1000):
            items += page
            after = page[-1].position
        prompts = {p.id: p.prompt for p in
                   problems_of(db, sorted({it.problem_id for it in items})).values()}
        labels, counts = [], {}
        for it in items:
            label, reason = check_trace(prompts[it.problem_id] or "",
                                        sample_text(db, it.sample_id))
            labels.append((it.sample_id, label, f"step checker: {reason}"))
            counts[label] = counts.get(label, 0) + 1
        set_labels(db, labels, reviewer)
        return counts
    finally:
        db.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--queue", default="review")
    args = parser.parse_args(argv)
    print(label_queue(args.db, args.queue))


if __name__ == "__main__":
    main()
