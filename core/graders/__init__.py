"""Graders: math answer equivalence and sandboxed code tests, run in a pool of processes.

>>> from reachscope.core.graders import GradeTask, GradingPool
>>> with GradingPool("math", workers=2) as pool:  # doctest: +SKIP
...     results = pool.submit_batch([GradeTask(1, "... \\\\boxed{12}", "12")]).result()
"""

from .base import VERDICTS, Grader, GradeResult, GradeTask, GradingTimeout
from .math import grade_math_answer
from .pool import GradingPool, default_workers
from .registry import GRADER_NAMES, get_grader

__all__ = [
    "GRADER_NAMES",
    "VERDICTS",
    "GradeResult",
    "GradeTask",
    "Grader",
    "GradingPool",
    "GradingTimeout",
    "default_workers",
    "get_grader",
    "grade_math_answer",
]
