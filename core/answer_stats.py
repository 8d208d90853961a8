"""Per-(run, problem) answer evidence for the app's Problems and Problem screens (issues 11, 12).

Pure functions over the store's answer aggregates (`store.answers.ClusterCount` and
`AnswerRow`, never the samples) and sample scores: each problem's answer distribution (entropy,
distinct answers, mode), maj@n, truncation, the clusters of equivalent answers, and perplexity.
The formulas are those of core/answers.py and core/evidence.py, applied exactly as the report
applies them (`evidence_report.load_run_answers`), so the app and ``reachscope report`` agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from reachscope.store import scores as store_scores
from reachscope.store.answers import NO_ANSWER, AnswerRow, ClusterCount
from reachscope.store.scores import Scorer

from .answers import AnswerClusters, AnswerDistribution, answer_distribution, maj_at_k
from .evidence import TruncationCounts
from .vote_cache import clusters_of


@dataclass(frozen=True)
class AnswerStats:
    """One (run, problem)'s answer evidence.

    Attributes:
        clusters: the answer clusters (a cluster is correct when the grader accepted any of its
            samples, as in the report).
        distribution: distinct answers, entropy (also normalised), mode share and mode verdict.
        maj_n: maj@n, the plurality vote over all n samples (no-answer samples do not vote;
            ties split uniformly); 0 where no sample answered.
        truncation: samples that stopped for length, overall and among the failed ones.
        correct: samples the grader graded correct (its c; n is ``clusters.n``).
    """

    clusters: AnswerClusters
    distribution: AnswerDistribution
    maj_n: float
    truncation: TruncationCounts
    correct: int

    @property
    def truncated_failures(self) -> int:
        """Samples graded not correct that stopped for length."""
        return self.truncation.incorrect_truncated


def truncation_of(rows: Sequence[ClusterCount]) -> TruncationCounts:
    """Truncation counts of one (run, problem) from its cluster counts ("incorrect" is every
    graded sample not graded correct, as in the report)."""
    missing = [r for r in rows if r.answer == NO_ANSWER]
    return TruncationCounts(
        samples=sum(r.n for r in rows), truncated=sum(r.truncated for r in rows),
        incorrect=sum(r.n - r.c for r in rows),
        incorrect_truncated=sum(r.truncated - r.truncated_c for r in rows),
        no_answer=sum(r.n for r in missing),
        no_answer_truncated=sum(r.truncated for r in missing))


def answer_stats(rows: Sequence[ClusterCount]) -> AnswerStats:
    """One (run, problem)'s `AnswerStats` from its cluster counts."""
    clusters = clusters_of(rows)
    return AnswerStats(clusters, answer_distribution(clusters),
                       maj_at_k(clusters, clusters.n) if clusters.answered else 0.0,
                       truncation_of(rows), sum(r.c for r in rows))


def run_answer_stats(rows: Iterable[ClusterCount]) -> dict[int, AnswerStats]:
    """``problem id -> AnswerStats`` of a run, from its cluster counts (any order)."""
    by_problem: dict[int, list[ClusterCount]] = {}
    for row in rows:
        by_problem.setdefault(row.problem_id, []).append(row)
    return {pid: answer_stats(group) for pid, group in by_problem.items()}


def confidently_wrong(stats_b: AnswerStats | None, correct_a: int) -> bool:
    """B's mode is wrong (no cluster tied for the mode is correct) while A has a correct sample:
    the per-problem condition of `answers.confidently_wrong`. False where B gave no answer."""
    return (stats_b is not None and stats_b.distribution.mode_correct == 0
            and correct_a > 0)


# --- clusters of one problem, for the answers pane -----------------------------------------------


@dataclass(frozen=True)
class ClusterGroup:
    """Samples of one (run, problem) in one answer cluster.

    Attributes:
        answer: the cluster's first member (None: the samples without an answer).
        members: every exact answer in the cluster (the first member first).
        n: samples. c: of them graded correct.
    """

    answer: str | None
    members: tuple[str, ...]
    n: int
    c: int

    @property
    def verdict(self) -> str:
        """``correct``, ``incorrect`` or ``mixed`` (some samples correct)."""
        return "correct" if self.c == self.n else "incorrect" if not self.c else "mixed"

    def holds(self, answer: str | None) -> bool:
        """Whether a sample with this extracted answer is in the cluster."""
        if self.answer is None:
            return answer is None or answer == NO_ANSWER
        return answer in self.members


def _by_cluster(rows: Sequence[AnswerRow]) -> dict[str, list[AnswerRow]]:
    """Answer rows by cluster (an answer without a cluster is its own; :data:`NO_ANSWER` apart),
    as `store.answers.cluster_counts` groups them."""
    groups: dict[str, list[AnswerRow]] = {}
    for row in rows:
        key = NO_ANSWER if row.answer == NO_ANSWER else (row.cluster or row.answer)
        groups.setdefault(key, []).append(row)
    return groups


def cluster_groups(rows: Sequence[AnswerRow]) -> list[ClusterGroup]:
    """One (run, problem)'s answers grouped by cluster, most samples first (ties by answer; the
    no-answer group last among equals)."""
    out = []
    for key, members in _by_cluster(rows).items():
        ordered = sorted(members, key=lambda r: (r.answer != key, -r.n, r.answer))
        out.append(ClusterGroup(None if key == NO_ANSWER else key,
                                tuple(r.answer for r in ordered),
                                sum(r.n for r in members), sum(r.c for r in members)))
    out.sort(key=lambda g: (-g.n, g.answer is None, g.answer or ""))
    return out


def cluster_counts_of(problem_id: int, rows: Sequence[AnswerRow]) -> list[ClusterCount]:
    """The `ClusterCount` rows (as `store.answers.cluster_counts` gives them) of one problem's
    answer rows."""
    return [ClusterCount(problem_id, key, sum(r.n for r in g), sum(r.c for r in g),
                         sum(r.truncated for r in g), sum(r.truncated_c for r in g), len(g))
            for key, g in _by_cluster(rows).items()]


# --- likelihood ---------------------------------------------------------------------------------


def perplexity(mean_logprob: float | None) -> float | None:
    """PPL = exp(-mean log-prob) over the scorer's completion tokens (None where unscored)."""
    if mean_logprob is None or math.isnan(mean_logprob):
        return None
    return math.exp(-mean_logprob)


def own_scorer(run_label: str, run_model: str | None,
               scorers: Sequence[Scorer]) -> Scorer | None:
    """The scorer that is the run's own generating model: the one named like the run, else one
    of the same model (the rule of ``reachscope score --report``); None if there is none."""
    for scorer in scorers:
        if scorer.name == run_label:
            return scorer
    if run_model:
        for scorer in scorers:
            if scorer.model == run_model or Path(scorer.model).resolve() == \
                    Path(run_model).resolve():
                return scorer
    return None


def mean_token_entropy(entropies: Iterable[float | None]) -> float | None:
    """The mean of per-sample mean token entropies (None where no sample has one)."""
    kept = [e for e in entropies if e is not None and not math.isnan(e)]
    return math.fsum(kept) / len(kept) if kept else None


def ppl_order(sample_ids: Sequence[int], ppl: Mapping[int, Mapping[str, float]], scorer: str,
              descending: bool) -> list[int]:
    """Sample ids ordered by their perplexity under ``scorer`` (lowest first unless
    ``descending``); unscored samples last, in their given order (the sort is stable)."""
    def key(sid: int) -> tuple[int, float]:
        value = ppl.get(sid, {}).get(scorer)
        if value is None:
            return (1, 0.0)
        return (0, -value if descending else value)

    return sorted(sample_ids, key=key)


@dataclass
class Likelihoods:
    """Some samples' scores under every scorer of a file.

    Attributes:
        scorers: the scorers, oldest first.
        ppl: sample id -> scorer name -> perplexity (only the samples a scorer scored).
        entropy: sample id -> scorer name -> mean token entropy (where the backend gave it).
    """

    scorers: list[Scorer]
    ppl: dict[int, dict[str, float]]
    entropy: dict[int, dict[str, float]]

    def scored_by(self) -> list[str]:
        """The names of the scorers (oldest first) that scored at least one of the samples: a
        file's scorers may have scored other runs only (the demo's lab models and its Qwen
        traces)."""
        seen = {name for values in self.ppl.values() for name in values}
        return [s.name for s in self.scorers if s.name in seen]

    def mean_entropy(self, sample_ids: Iterable[int], scorer: str) -> float | None:
        """The mean token entropy of these samples under ``scorer`` (None: none has one)."""
        return mean_token_entropy(self.entropy.get(s, {}).get(scorer) for s in sample_ids)


def read_likelihoods(db: sqlite_utils.Database, sample_ids: Sequence[int]) -> Likelihoods:
    """The stored scores of these samples under every scorer (empty on a file never scored)."""
    scorers = store_scores.list_scorers(db)
    ppl: dict[int, dict[str, float]] = {}
    entropy: dict[int, dict[str, float]] = {}
    for scorer in scorers:
        for sid, score in store_scores.sample_scores(db, sample_ids, scorer.id).items():
            value = perplexity(score.mean_logprob)
            if value is not None:
                ppl.setdefault(sid, {})[scorer.name] = value
            if score.mean_entropy is not None:
                entropy.setdefault(sid, {})[scorer.name] = score.mean_entropy
    return Likelihoods(scorers, ppl, entropy)
