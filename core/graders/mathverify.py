"""Math answers, ``math-verify`` profile: math-verify's own extraction and equivalence.

The whole completion goes to ``math_verify.parse`` (its LaTeX and expression extraction, which
also reads several boxes and "final answer" sentences its own way) and the result to
``math_verify.verify`` against the boxed reference. One rule is added, as in every profile: a
percentage states its number (``35\\%`` matches ``35``, whichever side carries the sign), which
math-verify alone reads as /100.

Extraction needs sympy and math-verify's signal-based timeouts, so it runs in the workers, not
in the parent; the extracted answer comes back with the verdict.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .base import Grader, GradeResult, GradeTask, Unit, deadline, limit_address_space
from .math import (
    DEFAULT_TIMEOUT_S,
    MAX_STORED_ANSWER,
    _math_verify_version,
    _quiet_math_verify,
    strip_percent,
)

#: Bump when the use of math-verify changes in a way that can change verdicts.
MATH_VERIFY_GRADER_REVISION = "1"


def _boxed(text: str) -> str:
    return "\\boxed{" + text + "}"


def verify_completion(reference: str, completion: str) -> tuple[str, str | None]:
    """Grade a whole completion with math-verify: ``(verdict, extracted answer)``.

    Must run in a main thread under :func:`~reachscope.core.graders.base.deadline` (math-verify's
    own timeouts are off so that a timeout is reported as one).
    """
    from math_verify import parse, verify

    pred = parse(completion, parsing_timeout=None)  # type: ignore[arg-type]
    if not pred:
        return "no_answer", None
    answer = pred[-1] if isinstance(pred[-1], str) else str(pred[0])
    gold = parse(_boxed(reference), parsing_timeout=None)  # type: ignore[arg-type]
    if verify(gold, pred, timeout_seconds=None):  # type: ignore[arg-type]
        return "correct", answer
    ref_bare, ref_percent = strip_percent(reference)
    answer_bare, answer_percent = strip_percent(answer)
    if ref_percent or answer_percent:
        gold = parse(_boxed(ref_bare), parsing_timeout=None)  # type: ignore[arg-type]
        bare = parse(_boxed(answer_bare), parsing_timeout=None)  # type: ignore[arg-type]
        if verify(gold, bare, timeout_seconds=None):  # type: ignore[arg-type]
            return "correct", answer
    return "incorrect", answer


class MathVerifyGrader(Grader):
    """The ``math-verify`` profile, stored as grader ``math-verify``.

    Options:
        timeout: seconds of math-verify work (extraction and comparison) per completion.
        kill_after: extra seconds after which the pool kills a stuck worker.
        memory_mb: address-space limit of each worker process.
    """

    name = "math-verify"
    max_chunk = 8

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_S, kill_after: float = 10.0,
                 memory_mb: int = 4096) -> None:
        self.timeout = float(timeout)
        self.memory_mb = int(memory_mb)
        self.hard_timeout = self.timeout + float(kill_after)
        self.version = f"{MATH_VERIFY_GRADER_REVISION}+math-verify-{_math_verify_version()}"

    def prepare(self, task: GradeTask) -> GradeResult | Unit:
        if task.reference is None or not str(task.reference).strip():
            return GradeResult(task.key, "error", None, "problem has no reference answer")
        reference = str(task.reference).strip()
        # Equal completions share a unit; the cache keeps a digest, not the whole text.
        digest = hashlib.blake2b(task.completion.encode("utf-8", "surrogatepass"),
                                 digest_size=16).digest()
        return Unit((reference, digest), (reference, task.completion), None)

    def prepare_same_answer(self, key: int, first: str, answer: str) -> GradeResult | Unit:
        # math-verify's own reading of the answer, boxed as a completion that states only it.
        if first == answer:
            return GradeResult(key, "correct")
        return Unit(("same", first, answer), (first, _boxed(answer)))

    def setup_worker(self) -> None:
        _quiet_math_verify()
        limit_address_space(self.memory_mb)
        import math_verify  # noqa: F401  (load sympy and the parser once)

    def run_unit(self, payload: Any) -> tuple[str, str | None, str | None]:
        reference, completion = payload
        with deadline(self.timeout):
            verdict, answer = verify_completion(reference, completion)
        if answer is not None and len(answer) > MAX_STORED_ANSWER:
            answer = answer[:MAX_STORED_ANSWER] + "…"
        return verdict, None, answer

    def cacheable(self, verdict: str) -> bool:
        return verdict in ("correct", "incorrect", "no_answer", "timeout")
