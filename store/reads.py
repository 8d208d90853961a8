"""Deprecated: the read queries now live in the store module of their entity.

Kept as a re-export so callers written against ``store.reads`` keep working; new code imports
``store.runs``, ``store.problems``, ``store.samples``, ``store.grades`` or ``store.counts``.
"""

from .annotations import annotations_of
from .counts import run_counts
from .grades import graders_of_run, resolve_grader, solved_within
from .imports import imported_hashes
from .problems import ProblemRow, problems_of
from .runs import RunSummary, get_run, list_runs, run_summaries
from .samples import SampleRow, next_sample_index, sample_text, samples_of_problem

__all__ = [
    "ProblemRow", "RunSummary", "SampleRow", "annotations_of", "get_run", "graders_of_run",
    "imported_hashes", "list_runs", "next_sample_index", "problems_of", "resolve_grader",
    "run_counts", "run_summaries", "sample_text", "samples_of_problem", "solved_within",
]
