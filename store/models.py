"""Plain data classes passed between store/ and its callers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


def problem_hash(prompt: str | None, idx: int) -> str:
    """Content hash identifying a problem across runs and imports.

    The prompt text is normalised (whitespace collapsed) so that trailing newlines or re-wrapping
    in another export do not split one problem into two. Problems without text (aggregate-only
    imports) are identified by their index.
    """
    if prompt is None or not prompt.strip():
        key = f"index:{idx}"
    else:
        key = "text:" + " ".join(prompt.split())
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


@dataclass
class ProblemIn:
    """A problem to store."""

    idx: int
    prompt: str | None
    answer: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return problem_hash(self.prompt, self.idx)


@dataclass
class RunSpec:
    """What defines a run: one model sampled on one dataset under one configuration."""

    label: str
    dataset: str
    model: str | None = None
    revision: str | None = None
    backend: str | None = None
    prompt_template: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    n_target: int | None = None
    seeds: list[int] = field(default_factory=list)
    status: str = "running"
    aggregate_only: bool = False
    primary_grader: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class SampleIn:
    """A completion to store; (run, problem_id, sample_idx) is its natural key."""

    problem_id: int
    sample_idx: int
    text: str
    n_tokens: int | None = None
    finish_reason: str | None = None
    seed: int | None = None
    latency_s: float | None = None


@dataclass
class GradeIn:
    """A verdict of one grader on one sample."""

    sample_id: int
    grader: str
    verdict: str
    answer: str | None = None
    detail: str | None = None
    grader_version: str | None = None


@dataclass
class Run:
    """A stored run, as read back."""

    id: int
    label: str
    dataset: str
    model: str | None
    revision: str | None
    backend: str | None
    prompt_template: str | None
    params: dict[str, Any]
    n_target: int | None
    seeds: list[int]
    status: str
    aggregate_only: bool
    primary_grader: str | None
    created_at: str
    updated_at: str
    finished_at: str | None
    provenance: dict[str, Any]

    @property
    def ref(self) -> str:
        """The unambiguous name of the run, ``dataset/label``."""
        return f"{self.dataset}/{self.label}"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Run:
        return cls(
            id=row["id"],
            label=row["label"],
            dataset=row["dataset"],
            model=row["model"],
            revision=row["revision"],
            backend=row["backend"],
            prompt_template=row["prompt_template"],
            params=json.loads(row["params"] or "{}"),
            n_target=row["n_target"],
            seeds=json.loads(row["seeds"] or "[]"),
            status=row["status"],
            aggregate_only=bool(row["aggregate_only"]),
            primary_grader=row["primary_grader"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            finished_at=row["finished_at"],
            provenance=json.loads(row["provenance"] or "{}"),
        )
