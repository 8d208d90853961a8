"""Deprecated: the browsing queries now live in the store module of their entity.

Kept as a re-export so callers written against ``store.views`` keep working; new code imports
``store.runs``, ``store.problems``, ``store.samples``, ``store.grades`` or ``store.counts``.
"""

from .counts import count_totals, max_samples
from .grades import AnswerGroup, answer_groups
from .problems import ProblemLine, problem_lines
from .runs import RunProgress, RunSummary, run_progress, run_statuses, run_summary
from .samples import last_sample_id, sample_info, sample_texts

__all__ = [
    "AnswerGroup", "ProblemLine", "RunProgress", "RunSummary", "answer_groups", "count_totals",
    "last_sample_id", "max_samples", "problem_lines", "run_progress", "run_statuses",
    "run_summary", "sample_info", "sample_texts",
]
