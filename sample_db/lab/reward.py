"""The RL reward: the project's own math grader, through one small adapter.

``grade_math_answer`` bounds math-verify with ``SIGALRM``, so rewards are computed in the main
thread.
The local exact match exists only for developing the lab before the grader landed; it is used only
when asked for explicitly (``allow_dev_fallback``), and the name of the grader actually used is
recorded with every training run.
"""

from __future__ import annotations

from collections.abc import Callable

from sample_db.lab import task

PROJECT_GRADER = "reachscope.core.graders.grade_math_answer"
DEV_GRADER = "sample_db.lab.task.is_correct_local (development only)"

Reward = Callable[[str, int], float]


def load_reward(allow_dev_fallback: bool = False) -> tuple[Reward, str]:
    """The reward function (1.0 when the completion's answer is judged correct, else 0.0) and the
    name of the grader behind it.

    Raises:
        ImportError: the project grader is missing and the development fallback was not allowed.
    """
    try:
        from reachscope.core.graders import grade_math_answer
    except ImportError:
        if not allow_dev_fallback:
            raise
        return (lambda completion, answer: float(task.is_correct_local(completion, answer)),
                DEV_GRADER)

    def reward(completion: str, answer: int) -> float:
        verdict, _ = grade_math_answer(completion, str(answer))
        return 1.0 if verdict == "correct" else 0.0

    return reward, PROJECT_GRADER
