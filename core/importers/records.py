"""What the parsers produce and the importers report: plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reachscope.store import ProblemIn

#: Grader name under which the upstream toolkit's own `score` is stored.
UPSTREAM_GRADER = "upstream"
#: Grader name of counts imported from a CSV (aggregate-only runs).
REPORTED_GRADER = "reported"


class ImportFormatError(ValueError):
    """A malformed input; the message starts with ``FILE:LINE:`` (or ``FILE:``)."""


@dataclass
class ParsedSample:
    """One completion as read from a file.

    Attributes:
        text: the completion.
        line: the line it was read from (for messages).
        correct: the upstream verdict, when the file has one.
        pred: the upstream extracted answer, when the file has one.
        sample_idx: the sample index the file gives (None: numbered in order).
    """

    text: str
    line: int = 0
    correct: bool | None = None
    pred: str | None = None
    finish_reason: str | None = None
    n_tokens: int | None = None
    sample_idx: int | None = None


@dataclass
class ParsedProblem:
    """A problem and its samples as read from a file.

    Attributes:
        problem: the problem to store (replaced by the shipped one when the dataset is shipped).
        samples: its samples, in file order.
        where: ``FILE:LINE`` of its first line.
        explicit_idx: whether the file gave the problem index (not numbered by order).
        ref_id: the value of the file's task-id field, if any (matches shipped problems).
    """

    problem: ProblemIn
    samples: list[ParsedSample] = field(default_factory=list)
    where: str = ""
    explicit_idx: bool = False
    ref_id: str | None = None


@dataclass
class SampleFile:
    """One parsed sample file, ready to write."""

    path: Path
    sha256: str
    problems: list[ParsedProblem]

    @property
    def has_verdicts(self) -> bool:
        return any(s.correct is not None for p in self.problems for s in p.samples)


@dataclass
class CountsRow:
    """One ``problem_index,model,n,correct`` row."""

    idx: int
    n: int
    c: int
    where: str


@dataclass
class CountsFile:
    """One parsed counts CSV: rows by model, in file order."""

    path: Path
    sha256: str
    models: dict[str, list[CountsRow]]
    #: Shipped problems by index when the dataset is a shipped one (set by linking).
    shipped: dict[int, ProblemIn] = field(default_factory=dict)


@dataclass
class ImportResult:
    """What one import did."""

    run_label: str
    files_imported: int = 0
    files_skipped: int = 0
    problems: int = 0
    samples_added: int = 0
    correct: int = 0
    messages: list[str] = field(default_factory=list)
