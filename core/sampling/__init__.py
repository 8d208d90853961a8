"""Sampling runs: configuration, seeds, planning, provenance and the orchestration that drives them.

``config`` (what is asked), ``seeds`` and ``plan`` (pure: which samples, which seeds, which
requests), ``provenance`` (what a run records) and ``orchestrate`` (the thin part that reads and
writes the database and drives the backend). The names below are the package's public interface.
"""

from .config import GENERATION_KEYS, ModelSpec, SampleConfig, SamplingError, parse_model
from .orchestrate import run_sampling
from .outcome import ModelOutcome, Reporter, SilentReporter
from .plan import (
    SampleRange,
    WorkItem,
    index_ranges,
    missing_indices,
    plan_ranges,
    split_ranges,
    to_requests,
    work_items,
)
from .provenance import check_resumable, redact_argv, run_params
from .seeds import SEED_SCHEME, sample_seed

__all__ = [
    "GENERATION_KEYS",
    "SEED_SCHEME",
    "ModelOutcome",
    "ModelSpec",
    "Reporter",
    "SampleConfig",
    "SampleRange",
    "SamplingError",
    "SilentReporter",
    "WorkItem",
    "check_resumable",
    "index_ranges",
    "missing_indices",
    "parse_model",
    "plan_ranges",
    "redact_argv",
    "run_params",
    "run_sampling",
    "sample_seed",
    "split_ranges",
    "to_requests",
    "work_items",
]
