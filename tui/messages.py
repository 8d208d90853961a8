"""Messages that workers post when database work is done (past tense, plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reachscope.store import Run
from reachscope.store.reads import ProblemRow, SampleRow
from reachscope.store.views import AnswerGroup, ProblemLine, RunProgress, RunSummary
from textual.message import Message

if TYPE_CHECKING:  # numpy and the analysis code load with the first comparison, not at start-up
    from reachscope.core.analysis import Comparison


@dataclass
class RunsLoaded(Message):
    runs: list[Run]
    #: Cheap per-run figures of the pair to compare, shown until the comparison is computed.
    summaries: dict[int, RunSummary] = field(default_factory=dict)


@dataclass
class ComparisonLoaded(Message):
    comparison: Comparison
    log2_ks: list[int]


@dataclass
class ProblemsLoaded(Message):
    lines: list[ProblemLine]


@dataclass
class ProblemLoaded(Message):
    problem: ProblemRow
    groups: dict[int, list[AnswerGroup]]  # run id -> answer groups
    samples: list[SampleRow]


@dataclass
class TraceLoaded(Message):
    sample: SampleRow
    text: str
    annotations: list[dict[str, Any]]


@dataclass
class PairLoaded(Message):
    left: SampleRow
    right: SampleRow
    left_text: str
    right_text: str
    similarity: float
    auto: bool  # right was chosen as the most similar trace of its run


@dataclass
class AnnotationSaved(Message):
    sample_id: int
    annotation_id: int


@dataclass
class RunsChanged(Message, bubble=False):
    """Another connection committed; these runs' numbers moved. The app forwards it to the
    active screen; it must not bubble back up to the app."""

    run_ids: set[int] = field(default_factory=set)

    def can_replace(self, message: Message) -> bool:
        if isinstance(message, RunsChanged):
            self.run_ids |= message.run_ids  # replace the queued one without losing its runs
            return True
        return False


@dataclass
class ProgressLoaded(Message):
    progress: list[RunProgress]
    at: float
