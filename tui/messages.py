"""Messages that workers post when database work is done (past tense, plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reachscope.store import Run
from reachscope.store.problems import ProblemLine, ProblemRow
from reachscope.store.runs import RunProgress, RunSummary
from reachscope.store.samples import SampleRow
from textual.message import Message

if TYPE_CHECKING:  # numpy and the analysis code load with the first comparison, not at start-up
    from reachscope.core.analysis import Comparison
    from reachscope.core.answer_stats import AnswerStats, ClusterGroup


@dataclass
class RunsLoaded(Message):
    runs: list[Run]
    #: Cheap per-run figures of the pair to compare, shown until the comparison is computed.
    summaries: dict[int, RunSummary] = field(default_factory=dict)


@dataclass
class ComparisonLoaded(Message):
    comparison: Comparison
    log2_ks: list[int]
    generation: int = -1  # the app's data generation the comparison was computed at


@dataclass
class ProblemsLoaded(Message):
    lines: list[ProblemLine]
    graders: list[str] = field(default_factory=list)  # the grader of each compared run
    generation: int = -1  # the app's data generation the lines were read at
    #: run id -> problem id -> answer evidence (core/answer_stats.py)
    stats: dict[int, dict[int, AnswerStats]] = field(default_factory=dict)


@dataclass
class ProblemLoaded(Message):
    problem: ProblemRow
    groups: dict[int, list[ClusterGroup]]  # run id -> answer clusters, largest first
    samples: list[SampleRow]
    labelled: frozenset[int] = frozenset()  # ids of the samples that carry a label
    disagreed: frozenset[int] = frozenset()  # ids of the samples whose graders disagree
    graders: dict[int, str] = field(default_factory=dict)  # run id -> grader shown
    #: run id -> (n, c) for the aggregate-only runs (imported counts, no sample texts)
    counts: dict[int, tuple[int, int]] = field(default_factory=dict)
    generation: int = -1  # the app's data generation the problem was read at
    #: run id -> that run's answer evidence on the problem (entropy, mode, maj@n, truncation)
    stats: dict[int, AnswerStats] = field(default_factory=dict)
    #: sample id -> scorer name -> perplexity; the scorers of the file, oldest first
    ppl: dict[int, dict[str, float]] = field(default_factory=dict)
    scorers: list[str] = field(default_factory=list)
    #: run id -> (own scorer's name, mean token entropy of the run's samples under it)
    token_entropy: dict[int, tuple[str, float]] = field(default_factory=dict)


@dataclass
class AnnotationsLoaded(Message):
    run_id: int
    rows: list[dict[str, Any]]


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
    #: What the worker read, for the screen to keep (assigned on the UI thread): run id ->
    #: sample rows and sample id -> text, and the runs of each side.
    rows: dict[int, list[SampleRow]] = field(default_factory=dict)
    texts: dict[int, dict[int, str]] = field(default_factory=dict)
    left_run: int | None = None
    right_run: int | None = None
    #: sample id -> scorer name -> perplexity, for the problem's samples (read once with rows)
    ppl: dict[int, dict[str, float]] = field(default_factory=dict)
    scorers: list[str] = field(default_factory=list)


@dataclass
class AnnotationSaved(Message):
    sample_id: int
    annotation_id: int


@dataclass
class GradersListed(Message):
    """The graders every compared run has, for the grader key to cycle through."""

    graders: list[str]


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
    #: The runs as read with it (the app's list and the ids seen running are set from these
    #: on the UI thread).
    runs: list[Run] = field(default_factory=list)
