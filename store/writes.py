"""Deprecated: the writes now live in the store module of their entity.

Kept as a re-export so callers written against ``store.writes`` keep working; new code imports
``store.runs``, ``store.problems``, ``store.samples``, ``store.grades`` or ``store.counts``.
"""

from .annotations import add_annotation
from .counts import write_counts
from .grades import write_grades
from .imports import record_import
from .problems import problem_ids_by_index, upsert_problems
from .runs import get_or_create_run, now, update_run
from .samples import write_samples

__all__ = [
    "add_annotation", "get_or_create_run", "now", "problem_ids_by_index", "record_import",
    "update_run", "upsert_problems", "write_counts", "write_grades", "write_samples",
]
