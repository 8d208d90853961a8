"""Graders by name."""

from __future__ import annotations

from typing import Any

from .base import Grader

#: Names accepted by :func:`get_grader` (and ``reachscope grade --grader``).
GRADER_NAMES = ("math", "code")


def get_grader(name: str, **options: Any) -> Grader:
    """A grader by name, configured with its options.

    Args:
        name: ``math`` or ``code``.
        **options: the grader's options (see :class:`MathGrader`, :class:`CodeGrader`); None
            values are ignored.

    Raises:
        ValueError: unknown grader, unknown option or invalid value (a bad answer pattern).
    """
    options = {k: v for k, v in options.items() if v is not None}
    if name == "math":
        from .math import MathGrader

        cls: type[Grader] = MathGrader
    elif name == "code":
        from .code import CodeGrader

        cls = CodeGrader
    else:
        raise ValueError(f"unknown grader {name!r} (known: {', '.join(GRADER_NAMES)})")
    try:
        return cls(**options)
    except TypeError as exc:
        raise ValueError(f"grader {name!r}: {exc}") from exc
