"""Graders by name: one registry that says where each grader lives, what it serves and its options.

A new grader is one module in this package plus one :class:`GraderEntry` here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from .base import Grader


@dataclass(frozen=True)
class GraderEntry:
    """A registered grader.

    Attributes:
        name: the name stored with every grade (``math``, ``math-paper``, ...).
        module: the module in this package that defines it.
        cls: the class name in that module.
        kind: the dataset kind it grades (``math`` or ``code``).
        options: the options its constructor accepts (documentation; the constructor is the
            authority and rejects any other).
        profile: the ``reachscope grade --profile`` value that selects it, if any.
        summary: one line for help texts.
        same_answer: whether two of its extracted answers can be compared under its own
            equivalence (the class implements ``Grader.prepare_same_answer``), so that answer
            clusters follow the grader; without it (code) answers cluster by exact string.
    """

    name: str
    module: str
    cls: str
    kind: str
    options: tuple[str, ...]
    profile: str | None = None
    summary: str = ""
    same_answer: bool = False


_MATH_LIMITS = ("timeout", "kill_after", "memory_mb")

REGISTRY: dict[str, GraderEntry] = {
    entry.name: entry for entry in (
        GraderEntry("math", "math", "MathGrader", "math",
                    ("answer_pattern", "last_number_fallback", "pattern_timeout", *_MATH_LIMITS),
                    "strict", "boxed/phrase extraction, math-verify equivalence (default)",
                    same_answer=True),
        GraderEntry("math-paper", "paper", "PaperMathGrader", "math",
                    ("answer_pattern", "pattern_timeout", *_MATH_LIMITS),
                    "paper", "the Qwen2.5-Math toolkit's rules, as in Yue et al. (2025)",
                    same_answer=True),
        GraderEntry("math-verify", "mathverify", "MathVerifyGrader", "math",
                    _MATH_LIMITS, "math-verify",
                    "math-verify's own extraction on the whole completion", same_answer=True),
        GraderEntry("code", "code", "CodeGrader", "code",
                    ("timeout", "memory_mb", "output_bytes", "nproc", "guard", "kill_after",
                     "strict_types"), None,
                    "runs the dataset's tests in a sandbox"),
    )
}

#: Names accepted by :func:`get_grader` (and ``reachscope grade --grader``).
GRADER_NAMES = tuple(REGISTRY)
#: ``reachscope grade --profile`` values and the math grader each selects.
MATH_PROFILES = {e.profile: e.name for e in REGISTRY.values() if e.profile is not None}


def compares_answers(name: str) -> bool:
    """Whether grader ``name`` clusters answers by its own equivalence (False for unknown names,
    such as an import's ``upstream``)."""
    entry = REGISTRY.get(name)
    return entry is not None and entry.same_answer


def grader_for_profile(profile: str) -> str:
    """The grader name of a math grading profile (``strict`` -> ``math``).

    Raises:
        ValueError: unknown profile.
    """
    try:
        return MATH_PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown grading profile {profile!r} "
                         f"(known: {', '.join(MATH_PROFILES)})") from None


def get_grader(name: str, **options: Any) -> Grader:
    """A grader by name, configured with its options.

    Args:
        name: a registered name (:data:`GRADER_NAMES`).
        **options: the grader's options (see :class:`MathGrader`, :class:`CodeGrader`); None
            values are ignored.

    Raises:
        ValueError: unknown grader, unknown option or invalid value (a bad answer pattern).
    """
    options = {k: v for k, v in options.items() if v is not None}
    entry = REGISTRY.get(name)
    if entry is None:
        raise ValueError(f"unknown grader {name!r} (known: {', '.join(GRADER_NAMES)})")
    cls: type[Grader] = getattr(importlib.import_module(f".{entry.module}", __package__),
                                entry.cls)
    try:
        return cls(**options)
    except TypeError as exc:
        raise ValueError(f"grader {name!r}: {exc}") from exc
