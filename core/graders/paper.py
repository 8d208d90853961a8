"""Math answers, ``paper`` profile: the Qwen2.5-Math evaluation grader, re-implemented.

Yue et al. (2025) grade math with the Qwen2.5-Math evaluation toolkit. This module follows that
toolkit's documented rules, written afresh from their description (no code is copied), so that a
user can reproduce published numbers:

Extraction, first rule that applies:

1. Minerva format: the text between ``final answer is $`` and ``$. I hope``;
2. the argument of the last ``\\boxed{...}``;
3. the text after the last "the answer is";
4. the last number in the completion (so almost every completion has an answer).

Normalisation of both sides: ``\\dfrac``/``\\tfrac`` become ``\\frac``, ``\\left``/``\\right``,
spaces, ``$``, degrees, trailing unit text and the percent sign are dropped, ``x = 3`` becomes
``3``, ``\\frac12`` becomes ``\\frac{1}{2}``, ``.5`` becomes ``0.5``, thousands separators go.

Equivalence, first rule that decides:

1. equal strings (case-insensitive);
2. two numbers: equal within a relative tolerance of 1e-4, where the reference ``r`` may also
   be read as ``r / 100`` or ``r * 100`` (the lenient percentage rule: ``0.35`` matches ``35``);
3. tuples, lists and intervals: the same brackets and equal parts, part by part;
4. symbolic equality with sympy (in a worker, bounded by the timeout): ``a == b``,
   ``simplify(a - b) == 0``, or equal numeric values within 1e-4.

Unlike the ``strict`` profile, several boxes are not joined: the last box is the answer.
"""

from __future__ import annotations

import math
import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .base import Grader, GradeResult, GradeTask, Unit, deadline, limit_address_space
from .extract import (
    DEFAULT_PATTERN_TIMEOUT_S,
    AnswerPatternTimeout,
    compile_pattern,
    last_boxed,
    user_pattern,
)
from .math import DEFAULT_TIMEOUT_S, MAX_STORED_ANSWER

#: Bump when extraction or comparison changes in a way that can change verdicts.
PAPER_GRADER_REVISION = "1"
#: Relative tolerance of numeric equality (the toolkit's).
REL_TOL = 1e-4

_LAST_NUMBER = re.compile(r"-?\d*\.?\d+")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?", re.IGNORECASE)
_TRAILING_UNIT = re.compile(r"(?<=\S)\s*\\(?:text|mbox|mathrm)\{\s*[a-zA-Z][a-zA-Z ^.]*\}\s*$")
_TEXT = re.compile(r"\\(?:text|mbox|mathrm|textbf)\{([^{}]*)\}")
_LHS = re.compile(r"^\s*[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*(?=\S)")
_SQRT_BARE = re.compile(r"\\sqrt(\w)")
_FRAC_BARE = re.compile(r"\\frac(?![{a-zA-Z])(\d)(\d)?")
_SLASH_FRAC = re.compile(r"^(-?\d+)/(\d+)$")


def _sympy_version() -> str:
    try:
        return version("sympy")
    except PackageNotFoundError:  # pragma: no cover - a dependency of math-verify
        return "unknown"


def paper_extract(text: str) -> str | None:
    """The answer under the toolkit's extraction order (Minerva, box, phrase, last number).

    Returns:
        The raw (not yet normalised) answer, or None when the completion has not even a number.
    """
    start = text.rfind("final answer is $")
    if start >= 0:
        end = text.find("$. I hope", start)
        if end >= 0:
            return text[start + len("final answer is $") : end]
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    phrase = text.rfind("he answer is")
    if phrase >= 0:
        rest = text[phrase + len("he answer is") :].strip().split("\n", 1)[0]
        rest = rest.lstrip(":").strip()
        if rest:
            return rest
    numbers = _LAST_NUMBER.findall(text.replace(",", ""))
    return numbers[-1] if numbers else None


def paper_normalize(answer: str) -> str:
    """The answer in the toolkit's canonical string form (see the module docstring)."""
    s = answer.replace("\n", "").strip().rstrip(".").rstrip("/").strip()
    s = s.replace("\\!", "").replace("\\\\", "\\")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\left", "").replace("\\right", "")
    for degree in ("^{\\circ}", "^\\circ", "°"):
        s = s.replace(degree, "")
    s = s.replace("\\$", "").replace("$", "")
    s = _TRAILING_UNIT.sub("", s)
    s = _TEXT.sub(r"\1", s)
    s = s.replace("\\%", "").replace("%", "")
    s = s.replace("{,}", "")
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    if s.startswith("."):
        s = "0" + s
    s = _LHS.sub("", s) if s.count("=") == 1 else s
    s = _SQRT_BARE.sub(r"\\sqrt{\1}", s)
    s = re.sub(r"\s+", "", s)
    s = _FRAC_BARE.sub(lambda m: "\\frac{" + m.group(1) + "}" + (
        "{" + m.group(2) + "}" if m.group(2) else ""), s)
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    slash = _SLASH_FRAC.fullmatch(s)
    if slash:
        s = f"\\frac{{{slash.group(1)}}}{{{slash.group(2)}}}"
    return s.rstrip(".")


def _number(s: str) -> float | None:
    if not _DECIMAL.fullmatch(s):
        return None
    try:
        value = float(s)
    except ValueError:  # pragma: no cover - the pattern admits floats only
        return None
    return value if math.isfinite(value) else None


def numbers_equal(pred: float, ref: float, percentage: bool = True) -> bool:
    """``pred`` equals ``ref`` within :data:`REL_TOL`, or ``ref / 100`` or ``ref * 100``."""
    candidates = (ref, ref / 100, ref * 100) if percentage else (ref,)
    return any(math.isclose(pred, c, rel_tol=REL_TOL) for c in candidates)


def _split_top(s: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return parts


def _brackets(s: str) -> tuple[str, str, str] | None:
    """``(open, inside, close)`` when one pair of brackets encloses the whole string."""
    for opener in ("\\{", "(", "["):
        if s.startswith(opener):
            close = "\\}" if opener == "\\{" else None
            if close is not None:
                return (opener, s[2:-2], close) if s.endswith(close) and len(s) >= 4 else None
            if s[-1:] in ")]" and len(s) >= 2:
                return opener, s[1:-1], s[-1]
    return None


def string_verdict(pred: str, ref: str) -> bool | None:
    """The toolkit's decisions that need no sympy: True, False, or None (undecided).

    ``pred`` and ``ref`` are normalised (:func:`paper_normalize`).
    """
    if pred.lower() == ref.lower():
        return True
    p_num, r_num = _number(pred), _number(ref)
    if p_num is not None and r_num is not None:
        return numbers_equal(p_num, r_num)
    if not pred:
        return False
    p_br, r_br = _brackets(pred), _brackets(ref)
    if (p_br is None) != (r_br is None):
        # "(1,2)" against "1,2": compare without the brackets.
        inner_p = p_br[1] if p_br else pred
        inner_r = r_br[1] if r_br else ref
        if inner_p.lower() == inner_r.lower():
            return True
    if p_br and r_br and "," in p_br[1] and "," in r_br[1]:
        p_parts, r_parts = _split_top(p_br[1]), _split_top(r_br[1])
        if len(p_parts) != len(r_parts):
            return False
        if (p_br[0], p_br[2]) != (r_br[0], r_br[2]):
            return False if r_br[0] != "\\{" else None
        results = [string_verdict(p, r) for p, r in zip(p_parts, r_parts)]
        if all(results):
            return True
        if p_br[0] != "\\{" and any(r is False for r in results):
            # Ordered parts: one part that surely differs decides, unless sympy is needed.
            return False if all(r is not None for r in results) else None
    return None


def symbolic_equal(pred: str, ref: str) -> bool:
    """Sympy equality of two normalised LaTeX answers (the toolkit's last rule); may be slow.

    Two equations are equal when their sides' differences are equal up to sign.
    """
    import sympy

    a, b = _to_sympy(pred), _to_sympy(ref)
    if a is None or b is None:
        return False
    if _same(a, b):
        return True
    if isinstance(a, sympy.Equality) and isinstance(b, sympy.Equality):
        da, db = a.lhs - a.rhs, b.lhs - b.rhs
        return _same(da, db) or _same(da, -db)
    return False


def _same(a: Any, b: Any) -> bool:
    import sympy

    try:
        if a == b:
            return True
    except Exception:  # noqa: BLE001 - sympy comparisons raise many types
        pass
    try:
        if sympy.simplify(a - b) == 0:
            return True
    except Exception:  # noqa: BLE001 - sets, tuples, strings have no difference
        pass
    try:
        x, y = complex(sympy.N(a)), complex(sympy.N(b))
    except Exception:  # noqa: BLE001 - not numeric
        return False
    return math.isclose(x.real, y.real, rel_tol=REL_TOL, abs_tol=1e-12) and \
        math.isclose(x.imag, y.imag, rel_tol=REL_TOL, abs_tol=1e-12)


def _to_sympy(s: str) -> Any:
    from latex2sympy2_extended import latex2sympy

    try:
        return latex2sympy(s)
    except Exception:  # noqa: BLE001 - unparsable LaTeX is simply not equal
        pass
    try:
        from sympy.parsing.sympy_parser import parse_expr

        return parse_expr(s.replace("^", "**"), evaluate=True)
    except Exception:  # noqa: BLE001
        return None


class PaperMathGrader(Grader):
    """The ``paper`` profile: the Qwen2.5-Math toolkit's rules, stored as ``math-paper``.

    Options:
        answer_pattern: user regular expression for the answer, tried before the toolkit's
            rules (see ``ExtractionOptions``).
        pattern_timeout: seconds the answer pattern may search one completion.
        timeout: seconds of sympy work per distinct (reference, answer) pair.
        kill_after: extra seconds after which the pool kills a stuck worker.
        memory_mb: address-space limit of each worker process.
    """

    name = "math-paper"
    max_chunk = 16

    def __init__(
        self,
        answer_pattern: str | None = None,
        pattern_timeout: float = DEFAULT_PATTERN_TIMEOUT_S,
        timeout: float = DEFAULT_TIMEOUT_S,
        kill_after: float = 10.0,
        memory_mb: int = 4096,
    ) -> None:
        self._pattern = compile_pattern(answer_pattern)
        self.pattern_timeout = float(pattern_timeout)
        self.timeout = float(timeout)
        self.memory_mb = int(memory_mb)
        self.hard_timeout = self.timeout + float(kill_after)
        self.version = f"{PAPER_GRADER_REVISION}+sympy-{_sympy_version()}"

    def extract(self, completion: str) -> str | None:
        """The raw answer of a completion (the user pattern first, then the toolkit's order).

        Raises:
            AnswerPatternTimeout: the user answer pattern overran ``pattern_timeout``.
        """
        if self._pattern is not None:
            got = user_pattern(completion, self._pattern, self.pattern_timeout)
            if got is not None:
                return got
        return paper_extract(completion)

    def prepare(self, task: GradeTask) -> GradeResult | Unit:
        if task.reference is None or not str(task.reference).strip():
            return GradeResult(task.key, "error", None, "problem has no reference answer")
        try:
            raw = self.extract(task.completion)
        except AnswerPatternTimeout as exc:
            return GradeResult(task.key, "timeout", None, str(exc))
        pred = paper_normalize(raw) if raw is not None else ""
        if not pred:
            return GradeResult(task.key, "no_answer", None, None)
        shown = pred if len(pred) <= MAX_STORED_ANSWER else pred[:MAX_STORED_ANSWER] + "…"
        ref = paper_normalize(str(task.reference))
        decided = string_verdict(pred, ref)
        if decided is not None:
            return GradeResult(task.key, "correct" if decided else "incorrect", shown, None)
        return Unit((ref, pred), (ref, pred), shown)

    def prepare_same_answer(self, key: int, first: str, answer: str) -> GradeResult | Unit:
        # Stored answers are already normalised: compare them as a prediction and a reference.
        if first == answer:
            return GradeResult(key, "correct")
        decided = string_verdict(answer, first)
        if decided is not None:
            return GradeResult(key, "correct" if decided else "incorrect")
        return Unit((first, answer), (first, answer))

    def setup_worker(self) -> None:
        limit_address_space(self.memory_mb)
        import latex2sympy2_extended  # noqa: F401  (load sympy and the parser once)

    def run_unit(self, payload: Any) -> tuple[str, str | None]:
        ref, pred = payload
        with deadline(self.timeout):
            ok = symbolic_equal(pred, ref)
        return ("correct" if ok else "incorrect"), None

    def cacheable(self, verdict: str) -> bool:
        return verdict in ("correct", "incorrect", "timeout")
