"""What a ``reachscope sample`` invocation asks for: models, generation parameters, options."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Parameters that define what a run's samples are; resuming with other values is refused.
GENERATION_KEYS = ("temperature", "top_p", "top_k", "max_tokens", "seed", "template_text",
                   "chat_template")


class SamplingError(Exception):
    """A run cannot start as asked (conflicting parameters, bad model spec)."""


@dataclass(frozen=True)
class ModelSpec:
    """A model to sample: the run label and the path or name given to the backend."""

    label: str
    path: str


def parse_model(spec: str) -> ModelSpec:
    """Parse ``label=path_or_name``; a bare path takes its last component as the label."""
    label, sep, path = spec.partition("=")
    if not sep:
        path = spec
        label = Path(spec.rstrip("/")).name or spec
    if not label or not path:
        raise SamplingError(f"--model {spec!r}: expected label=path_or_name")
    return ModelSpec(label.strip(), path.strip())


@dataclass
class SampleConfig:
    """Everything a ``reachscope sample`` invocation asks for."""

    db: Path
    dataset: str
    models: list[ModelSpec]
    backend: str = "vllm"
    n: int = 1
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int | None = None
    max_tokens: int = 1024
    seed: int = 0
    template: str = "qwen-boxed"
    chat_template: bool = False
    limit: int | None = None
    #: Samples per write transaction.
    batch_size: int = 256
    #: Longest a completed sample waits in memory before it is written.
    flush_s: float = 2.0
    #: Grader name; None picks by dataset kind, "none" turns grading off.
    grader: str | None = None
    grade_workers: int = 2
    #: Top log-probabilities per token for the generator's own scores (``--logprobs K``).
    logprobs: int | None = None
    grader_options: dict[str, Any] = field(default_factory=dict)
    backend_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    #: Name to store the problems under (default: the dataset's own name).
    dataset_name: str | None = None
    argv: list[str] = field(default_factory=lambda: list(sys.argv))
