"""reachscope.store: one SQLite file for runs, problems, samples, grades and annotations."""

from .db import StoreError, data_version, open_db
from .models import GradeIn, ProblemIn, Run, RunSpec, SampleIn, problem_hash

__all__ = [
    "GradeIn",
    "ProblemIn",
    "Run",
    "RunSpec",
    "SampleIn",
    "StoreError",
    "data_version",
    "open_db",
    "problem_hash",
]
