"""Math answers, ``strict`` profile: extraction, a string fast path, and math-verify equivalence.

On top of math-verify's equivalence, two rules that a reader of the answer would apply:

- A percentage states its number: ``35\\%`` and ``35`` are the same answer to a "what percent"
  question, whichever side carries the sign (math-verify alone reads ``\\%`` as /100). The
  lenient rule that also accepts ``0.35`` for ``35`` belongs to the ``paper`` profile only.
- Several boxes: when the reference has several parts (a set ``\\{1,2,3\\}``, a list ``1, 2``,
  a tuple, an interval pair ``(-\\infty,0)\\cup(1,\\infty)``), the trailing group of boxes of a
  completion (``\\boxed{1}, \\boxed{2}, \\boxed{3}``) is compared as one answer; with a one-part
  reference only the last box counts (see :func:`reference_separator`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Hashable
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .base import (
    Grader,
    GradeResult,
    GradeTask,
    GradingTimeout,
    Unit,
    deadline,
    limit_address_space,
)
from .extract import (
    DEFAULT_PATTERN_TIMEOUT_S,
    AnswerPatternTimeout,
    ExtractionOptions,
    compile_pattern,
    extract_answer,
)

#: Bump when extraction or comparison changes in a way that can change verdicts.
#: 2: percentages, several boxes, "Final Answer: ... is N" sentences, bounded user patterns.
MATH_GRADER_REVISION = "2"
# A trailing percent sign, in the spellings models and datasets use.
_PERCENT = re.compile(
    r"\s*(?:\\%|%|\\text\{\s*\\?%\s*\}|\\mbox\{\s*\\?%\s*\}|\\text\{\s*percent\s*\}"
    r"|\\?\s+percent)\s*$"
)

_INT = re.compile(r"[+-]?\d{1,12}")
# Strings math-verify always parses to one plain number or symbol: equal strings are equal.
_SIMPLE = re.compile(r"[+-]?(?:\d+(?:\.\d+)?|\.\d+|[a-zA-Z])|\\[dt]?frac\{\d+\}\{\d+\}")
#: Extracted answers longer than this are stored cut (they are still compared whole).
MAX_STORED_ANSWER = 1000
#: Default seconds of math-verify work (both parses and the comparison) per distinct answer.
DEFAULT_TIMEOUT_S = 5.0


def _math_verify_version() -> str:
    try:
        return version("math-verify")
    except PackageNotFoundError:  # pragma: no cover - a dependency
        return "unknown"


def strip_percent(text: str) -> tuple[str, bool]:
    """``text`` without a trailing percent sign (``35\\%``, ``35%``, ``35 \\text{\\%}``), and
    whether it had one."""
    stripped = _PERCENT.sub("", text)
    return (stripped, True) if stripped != text and stripped.strip() else (text, False)


def comparable(reference: str, answer: str) -> tuple[str, str]:
    """The pair as compared: ``35\\%`` states 35, so where either side carries a percent sign
    both are compared without it."""
    ref_bare, ref_percent = strip_percent(reference)
    answer_bare, answer_percent = strip_percent(answer)
    if ref_percent or answer_percent:
        return ref_bare.strip(), answer_bare.strip()
    return reference, answer


def reference_separator(reference: str) -> str | None:
    """How to join several boxed parts into one answer for this reference, or None.

    A reference has several parts when it has a comma or ``\\cup`` outside every bracket
    (``1, 2``, ``(-\\infty,0)\\cup(1,\\infty)``), or when it is one bracketed group with
    commas directly inside (a set ``\\{1,2\\}``, a tuple ``(1,2)``, an interval ``[0,1)``).

    Returns:
        ``" \\cup "`` for a union, ``", "`` for other several-part references, None for a
        one-part reference (then only the last box counts).
    """
    ref = reference.strip().replace("\\left", "").replace("\\right", "")
    if "," not in ref and "\\cup" not in ref:
        return None
    depth = 0
    top_comma = inner_comma = False
    wrapped = True  # one bracket group spans the whole reference
    i = 0
    n = len(ref)
    while i < n:
        ch = ref[i]
        if ch == "\\":
            if ref.startswith("\\cup", i) and depth == 0:
                return " \\cup "
            if i + 1 < n and ref[i + 1] in "{}":
                depth += 1 if ref[i + 1] == "{" else -1
                if depth == 0 and i + 2 < n:
                    wrapped = False
                i += 2
                continue
            i += 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0 and i + 1 < n:
                wrapped = False
        elif ch == ",":
            if depth == 0:
                top_comma = True
            elif depth == 1:
                inner_comma = True
        i += 1
    if top_comma:
        return ", "
    if inner_comma and wrapped and ref[:1] in "([\\" and not ref.startswith("{"):
        return ", "
    return None


def fast_verdict(reference: str, answer: str) -> str | None:
    """Verdict for pairs whose outcome needs no sympy, or None.

    Only cases where math-verify is known to agree: two short integers (``025`` equals ``25``),
    or identical simple tokens. Everything else goes to math-verify.
    """
    if _INT.fullmatch(reference) and _INT.fullmatch(answer):
        return "correct" if int(reference) == int(answer) else "incorrect"
    if reference == answer and _SIMPLE.fullmatch(reference):
        return "correct"
    return None


@lru_cache(maxsize=4096)
def _parsed_reference(reference: str) -> list[Any]:
    from math_verify import parse

    return list(parse("\\boxed{" + reference + "}", parsing_timeout=None))  # type: ignore[arg-type]


def equivalent(reference: str, answer: str) -> bool:
    """Whether math-verify judges ``answer`` equal to ``reference`` (both bare LaTeX).

    Both are wrapped in ``\\boxed{}`` so that math-verify parses each as one whole answer.
    math-verify's own signal timeouts are off: the caller bounds the time with
    :func:`~reachscope.core.graders.base.deadline`, so that a timeout is reported as a timeout
    instead of a wrong answer.
    """
    from math_verify import parse, verify

    gold = _parsed_reference(reference)
    pred = parse("\\boxed{" + answer + "}", parsing_timeout=None)  # type: ignore[arg-type]
    return bool(verify(gold, pred, timeout_seconds=None))


def _quiet_math_verify() -> None:
    # math-verify warns once that its own timeouts are off; ours replace them.
    logging.getLogger("math_verify").setLevel(logging.ERROR)


class MathGrader(Grader):
    """Final-answer grading of math completions against a reference answer.

    Options:
        answer_pattern: user regular expression for the answer (see ``ExtractionOptions``).
        last_number_fallback: take the last number when nothing else is found.
        pattern_timeout: seconds the answer pattern may search one completion; a sample whose
            search overruns is graded ``timeout`` with the reason in its detail.
        timeout: seconds of math-verify work per distinct (reference, answer) pair.
        kill_after: extra seconds after which the pool kills a worker stuck in C code that
            the timeout cannot interrupt.
        memory_mb: address-space limit of each worker process.
    """

    name = "math"
    max_chunk = 16

    def __init__(
        self,
        answer_pattern: str | None = None,
        last_number_fallback: bool = False,
        timeout: float = DEFAULT_TIMEOUT_S,
        kill_after: float = 10.0,
        memory_mb: int = 4096,
        pattern_timeout: float = DEFAULT_PATTERN_TIMEOUT_S,
    ) -> None:
        self.extraction = ExtractionOptions(answer_pattern, bool(last_number_fallback),
                                            float(pattern_timeout))
        self._pattern = compile_pattern(answer_pattern)
        self.timeout = float(timeout)
        self.memory_mb = int(memory_mb)
        self.hard_timeout = self.timeout + float(kill_after)
        self.version = f"{MATH_GRADER_REVISION}+math-verify-{_math_verify_version()}"

    def extract(self, completion: str, reference: str | None = None) -> str | None:
        """The answer of a completion under this grader's options.

        Args:
            completion: the model's text.
            reference: the reference answer; when it has several parts, a trailing group of
                boxes is joined into one answer (see :func:`reference_separator`).

        Raises:
            AnswerPatternTimeout: the user answer pattern overran ``pattern_timeout``.
        """
        several = reference_separator(reference) if reference else None
        return extract_answer(completion, self.extraction, self._pattern, several)

    def prepare(self, task: GradeTask) -> GradeResult | Unit:
        if task.reference is None or not str(task.reference).strip():
            return GradeResult(task.key, "error", None, "problem has no reference answer")
        reference = str(task.reference).strip()
        try:
            answer = self.extract(task.completion, reference)
        except AnswerPatternTimeout as exc:
            return GradeResult(task.key, "timeout", None, str(exc))
        if answer is None:
            return GradeResult(task.key, "no_answer", None, None)
        shown = answer if len(answer) <= MAX_STORED_ANSWER else answer[:MAX_STORED_ANSWER] + "…"
        reference, answer = comparable(reference, answer)
        verdict = fast_verdict(reference, answer)
        if verdict is not None:
            return GradeResult(task.key, verdict, shown, None)
        return Unit((reference, answer), (reference, answer), shown)

    def prepare_same_answer(self, key: int, first: str, answer: str) -> GradeResult | Unit:
        # The grading path with ``first`` as the reference, so equal pairs share cached units.
        if first == answer:
            return GradeResult(key, "correct")
        first, answer = comparable(first, answer)
        verdict = fast_verdict(first, answer)
        if verdict is not None:
            return GradeResult(key, verdict)
        return Unit((first, answer), (first, answer))

    def setup_worker(self) -> None:
        _quiet_math_verify()
        limit_address_space(self.memory_mb)
        import math_verify  # noqa: F401  (load sympy and the parser once, before the first unit)

    def run_unit(self, payload: Any) -> tuple[str, str | None]:
        reference, answer = payload
        with deadline(self.timeout):
            ok = equivalent(reference, answer)
        return ("correct" if ok else "incorrect"), None

    def cacheable(self, verdict: str) -> bool:
        # A (reference, answer) pair that timed out will time out again: reuse that too.
        return verdict in ("correct", "incorrect", "timeout")


_inprocess: dict[Hashable, str] = {}
_INPROCESS_CACHE_MAX = 100_000


def grade_math_answer(completion: str, reference: str, **options: Any) -> tuple[str, str | None]:
    """Grade one math completion in this process (for RL rewards and scripts).

    Must be called from the main thread (math-verify is bounded with ``SIGALRM``). Verdicts of
    (reference, answer) pairs are cached in the process.

    Args:
        completion: the model's text.
        reference: the reference answer (LaTeX, no ``$``).
        **options: :class:`MathGrader` options (``answer_pattern``, ``last_number_fallback``,
            ``timeout``, ``pattern_timeout``).

    Returns:
        ``(verdict, extracted answer)``; verdict is ``correct``, ``incorrect``, ``no_answer``,
        ``timeout`` or ``error``.
    """
    options.pop("memory_mb", None)  # no address-space limit on the caller's own process
    grader = _grader_for(tuple(sorted(options.items())))
    prepared = grader.prepare(GradeTask(0, completion, reference))
    if isinstance(prepared, GradeResult):
        return prepared.verdict, prepared.answer
    verdict = _inprocess.get(prepared.key)
    if verdict is None:
        _quiet_math_verify()
        try:
            verdict, _ = grader.run_unit(prepared.payload)
        except GradingTimeout:
            verdict = "timeout"
        except Exception:  # noqa: BLE001 - a reward must not crash a training step
            return "error", prepared.answer
        if len(_inprocess) >= _INPROCESS_CACHE_MAX:
            _inprocess.clear()
        _inprocess[prepared.key] = verdict
    return verdict, prepared.answer


@lru_cache(maxsize=16)
def _grader_for(options: tuple[tuple[str, Any], ...]) -> MathGrader:
    return MathGrader(**dict(options), memory_mb=0)
