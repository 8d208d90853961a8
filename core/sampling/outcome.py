"""What a sampling run reports: its outcome per model, and progress as it goes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class ModelOutcome:
    """What happened to one model's run."""

    label: str
    run_id: int | None = None
    status: str = "running"
    planned: int = 0
    written: int = 0
    tokens: int = 0
    graded: int = 0
    #: Grading batches that failed and their samples (stored, left ungraded for a later grade).
    grade_failed_batches: int = 0
    grade_failed: int = 0
    #: Samples whose grades were still pending when the run stopped early (graded on resume).
    ungraded_left: int = 0
    grade_errors: list[str] = field(default_factory=list)
    #: Wall time of the model's run, loading included.
    elapsed_s: float = 0.0
    #: Wall time from the first request to the last sample written (what tokens/s divides by).
    generate_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second of generation."""
        return self.tokens / self.generate_s if self.generate_s > 0 else 0.0


class Reporter(Protocol):
    """Receives progress; the CLI shows it with rich, tests may record it."""

    def start(self, label: str, total: int, done: int) -> None: ...

    def advance(self, label: str, samples: int, tokens: int) -> None: ...

    def error(self, label: str, message: str) -> None: ...

    def stop(self, label: str) -> None: ...


class SilentReporter:
    """A reporter that shows nothing."""

    def start(self, label: str, total: int, done: int) -> None:
        pass

    def advance(self, label: str, samples: int, tokens: int) -> None:
        pass

    def error(self, label: str, message: str) -> None:
        pass

    def stop(self, label: str) -> None:
        pass
