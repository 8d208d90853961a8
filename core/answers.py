"""Answers of one (run, problem): clusters, their spread, and majority vote (issue 11).

Pure functions over cluster counts; the caller extracts answers and decides equivalence (the
store aggregates the counts, `tui/` or `core/commands/` render them). Sources:

* Wang et al., 2023, "Self-Consistency Improves Chain of Thought Reasoning in Language Models"
  (arXiv:2203.11171): majority vote over sampled answers (maj@k; cons@n votes over all n).
* Wu et al., 2025, "The Invisible Leash: Why RLVR May Not Escape Its Origin" (arXiv:2507.14843):
  answer-level entropy of base and RL models.
* Yue et al., 2025, "Does Reinforcement Learning Really Incentivize Reasoning Capacity in LLMs
  Beyond the Base Model?" (arXiv:2504.13837): the base-vs-RL comparisons these feed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import numpy as np

from .evidence import log_factorials
from .metrics import FloatArray

T = TypeVar("T")


# --- answer clusters --------------------------------------------------------------------------


def cluster_answers(answers: Sequence[T], same: Callable[[T, T], bool]) -> list[list[int]]:
    """Group answers into clusters of equivalent ones, greedily and deterministically.

    Each answer, in order, joins the first cluster (in order of creation) whose first member it
    is ``same`` as, or starts a new cluster. Only a cluster's first member is compared, so the
    predicate need not be transitive: with ``same(a, b)`` and ``same(b, c)`` but not
    ``same(a, c)``, the order a, b, c gives clusters {a, b} and {c}. The result depends on the
    order of ``answers`` and never on anything else.

    Args:
        answers: extracted answers (no missing ones; see `AnswerClusters.from_samples`).
        same: the equivalence predicate, called as ``same(first_member, answer)``.

    Returns:
        Clusters as lists of indices into ``answers``, each in increasing order, clusters in
        order of their first member.
    """
    clusters: list[list[int]] = []
    for i, answer in enumerate(answers):
        for members in clusters:
            if same(answers[members[0]], answer):
                members.append(i)
                break
        else:
            clusters.append([i])
    return clusters


@dataclass(frozen=True)
class AnswerClusters:
    """One (run, problem)'s answers grouped into clusters of equivalent answers.

    Attributes:
        sizes: samples per cluster, each >= 1, in any order.
        correct: per cluster, whether its answer was graded correct. Any number of clusters may
            be correct: a grader can accept two answers that the equivalence predicate keeps
            apart ("0.5" and "1/2" under string equality), and every function here handles that.
        no_answer: samples with no extracted answer. They form no cluster, never vote, and are
            reported apart.
    """

    sizes: tuple[int, ...]
    correct: tuple[bool, ...]
    no_answer: int = 0

    def __post_init__(self) -> None:
        if len(self.sizes) != len(self.correct):
            raise ValueError("sizes and correct need one entry per cluster")
        if any(s < 1 for s in self.sizes) or self.no_answer < 0:
            raise ValueError("cluster sizes must be >= 1 and no_answer >= 0")

    @property
    def answered(self) -> int:
        """Samples with an answer (the sum of the cluster sizes)."""
        return sum(self.sizes)

    @property
    def n(self) -> int:
        """All samples, answered or not."""
        return self.answered + self.no_answer

    @classmethod
    def from_samples(cls, answers: Sequence[T | None], verdicts: Sequence[bool],
                     same: Callable[[T, T], bool]) -> AnswerClusters:
        """Cluster one problem's samples with `cluster_answers`.

        A None answer is a no-answer sample. A cluster is correct when its first member's verdict
        is: that answer is the one a majority vote returns for the cluster. (Where ``same`` and
        the grader disagree inside a cluster, the cluster's correct count can differ from the
        grader's c.)
        """
        if len(answers) != len(verdicts):
            raise ValueError("one verdict per answer")
        kept = [i for i, a in enumerate(answers) if a is not None]
        present = [a for a in answers if a is not None]
        groups = cluster_answers(present, same)
        return cls(sizes=tuple(len(g) for g in groups),
                   correct=tuple(bool(verdicts[kept[g[0]]]) for g in groups),
                   no_answer=len(answers) - len(kept))


@dataclass(frozen=True)
class AnswerDistribution:
    """How one (run, problem)'s answers spread (see `answer_distribution`)."""

    answered: int
    no_answer: int
    distinct: int
    entropy: float
    normalized_entropy: float
    mode_share: float
    mode_correct: float | None


def answer_distribution(clusters: AnswerClusters) -> AnswerDistribution:
    """Distinct answers, answer entropy and the mode of one (run, problem).

    With a = answered samples and p_j = size_j / a over the clusters (no-answer samples are left
    out and counted apart in ``no_answer``):

    * ``entropy`` H = -sum_j p_j ln p_j, in nats (Wu et al., 2025 compare answer-level entropy of
      base and RL models this way). 0 for a = 1; NaN for a = 0.
    * ``normalized_entropy`` H / ln a, where a is the number of answered samples: 1 means every
      answer differs, 0 that all agree. NaN for a <= 1, where ln a = 0 and one answer can show
      no spread.
    * ``mode_share``: the largest cluster's size / a (NaN for a = 0).
    * ``mode_correct``: the share of the clusters tied for the largest size that are correct,
      i.e. the chance that a uniform tie-break picks a correct mode (1.0 or 0.0 without a tie;
      equal to `cons_at_n`). None for a = 0.
    """
    a = clusters.answered
    if a == 0:
        nan = math.nan
        return AnswerDistribution(0, clusters.no_answer, 0, nan, nan, nan, None)
    entropy = -math.fsum(s / a * math.log(s / a) for s in clusters.sizes)
    return AnswerDistribution(
        answered=a,
        no_answer=clusters.no_answer,
        distinct=len(clusters.sizes),
        entropy=entropy,
        normalized_entropy=entropy / math.log(a) if a > 1 else math.nan,
        mode_share=max(clusters.sizes) / a,
        mode_correct=cons_at_n(clusters),
    )


def mean_entropy(distributions: Iterable[AnswerDistribution], normalized: bool = False) -> float:
    """A run's mean answer entropy over its problems with an entropy (NaN if none has one).

    Problems with no answer (and, when ``normalized``, with a single answer) are left out.
    """
    values = [d.normalized_entropy if normalized else d.entropy for d in distributions]
    kept = [v for v in values if not math.isnan(v)]
    return math.fsum(kept) / len(kept) if kept else math.nan


@dataclass(frozen=True)
class ProblemShare:
    """Problems meeting a condition, out of ``total`` problems."""

    ids: list[int]
    total: int

    @property
    def share(self) -> float:
        """len(ids) / total; NaN for no problems."""
        return len(self.ids) / self.total if self.total else math.nan


def confidently_wrong(problem_ids: Sequence[int], rl: Sequence[AnswerDistribution],
                      base_correct: Sequence[int]) -> ProblemShare:
    """Problems where RL's mode is wrong while the base has at least one correct sample.

    "Mode is wrong" means no cluster tied for the mode is correct (``mode_correct == 0``); a
    problem where RL gave no answer at all is not counted, but stays in the total.

    Args:
        problem_ids: the shared problems, aligned with the next two.
        rl: the RL run's answer distributions.
        base_correct: the base run's correct sample counts c.
    """
    if not len(problem_ids) == len(rl) == len(base_correct):
        raise ValueError("problem_ids, rl and base_correct must be aligned")
    ids = [p for p, d, c in zip(problem_ids, rl, base_correct) if d.mode_correct == 0 and c > 0]
    return ProblemShare(ids, len(problem_ids))


# --- majority vote ------------------------------------------------------------------------------


def cons_at_n(clusters: AnswerClusters) -> float:
    """cons@n: the plurality vote over all n samples, ties split uniformly (0 with no answers)."""
    if not clusters.sizes:
        return 0.0
    top = max(clusters.sizes)
    tied = [ok for s, ok in zip(clusters.sizes, clusters.correct) if s == top]
    return sum(tied) / len(tied)


def maj_at_k(clusters: AnswerClusters, k: int) -> float:
    """maj@k: the chance that a plurality vote over k samples drawn without replacement is right.

    No-answer samples do not vote. If the correct cluster ties with t others for the most votes
    it wins with probability 1/(t+1) (ties split uniformly); with several correct clusters their
    chances add. A draw in which no sample answered is wrong. maj@1 is the share of samples in
    correct clusters and maj@n is `cons_at_n`.

    Computed exactly (up to floating point) by a dynamic programme over the clusters, not by
    simulation: see `_win_probability`.

    Raises:
        ValueError: unless 1 <= k <= n.
    """
    if not 1 <= k <= clusters.n:
        raise ValueError(f"maj@k needs 1 <= k <= n = {clusters.n}, got k = {k}")
    order = sorted(zip(clusters.sizes, clusters.correct))
    return _maj_at_k(tuple(s for s, _ in order), tuple(ok for _, ok in order),
                     clusters.no_answer, k)


def maj_at_k_matrix(problems: Sequence[AnswerClusters], ks: Sequence[int]) -> FloatArray:
    """Per-problem maj@k on a k grid: ``[P, len(ks)]``, NaN where ``k > n``.

    Cost: per problem and k, about sum over correct cluster sizes s of the rival clusters'
    min(size, s, k) convolutions of length k (typically milliseconds at n = 1024; up to about a
    second for a draw split between several large clusters). Identical cluster profiles are
    computed once (cached).
    """
    if any(k < 1 for k in ks):
        raise ValueError("k must be >= 1")
    out = np.full((len(problems), len(ks)), math.nan)
    for i, clusters in enumerate(problems):
        for j, k in enumerate(ks):
            if k <= clusters.n:
                out[i, j] = maj_at_k(clusters, k)
    return out


#: A value of t whose hypergeometric probability is below this adds less to maj@k (every tie
#: weight is <= 1), so it is skipped: all of them together move a result by < n * 1e-30.
_NEGLIGIBLE = 1e-30


@lru_cache(maxsize=4096)
def _maj_at_k(sizes: tuple[int, ...], correct: tuple[bool, ...], no_answer: int, k: int) -> float:
    if not any(correct):
        return 0.0
    n = sum(sizes) + no_answer
    if all(correct):
        # Whichever cluster wins is correct: the vote is wrong only when no sample answered.
        return 1.0 - _none_answered(no_answer, n, k)
    pmfs = _PmfTable(k / n)
    # Clusters of the same size and verdict win equally often: compute each kind once.
    kinds = sorted({s for s, ok in zip(sizes, correct) if ok})
    total = 0.0
    for s in kinds:
        target = sizes.index(s)  # any one of them: sizes equal, so the others are symmetric
        count = sum(1 for s2, ok in zip(sizes, correct) if ok and s2 == s)
        total += count * _win_probability(target, sizes, no_answer, k, pmfs)
    return min(float(total), 1.0)


def _none_answered(no_answer: int, n: int, k: int) -> float:
    """P(a k-draw from n samples takes only no-answer ones) = C(no_answer, k) / C(n, k)."""
    if k > no_answer:
        return 0.0
    lf = log_factorials(n)
    return math.exp(lf[no_answer] - lf[no_answer - k] - lf[n] + lf[n - k])


class _PmfTable:
    """Binomial(s, p) pmfs for one p, each computed once and sliced (one maj@k shares them)."""

    def __init__(self, p: float) -> None:
        self.p = p
        self._full: dict[int, FloatArray] = {}

    def __call__(self, s: int, upto: int) -> FloatArray:
        """P(X = x) for X ~ Binomial(s, p), x = 0 .. upto (zero past s); read-only."""
        full = self._full.get(s)
        if full is None:
            full = self._full[s] = _binomial_pmf(s, s, self.p)
        if upto <= s:
            return full[:upto + 1]
        out = np.zeros(upto + 1)
        out[:s + 1] = full
        return out


def _win_probability(target: int, sizes: tuple[int, ...], no_answer: int, k: int,
                     pmfs: _PmfTable) -> float:
    """P(cluster ``target`` wins the vote over a k-draw), ties split uniformly.

    Condition on the target drawing t >= 1 votes. Every other cluster must draw at most t, and
    if b of them draw exactly t the target wins with probability 1/(b+1). Clusters smaller than
    t cannot reach t, so together with the no-answer samples they form one pool whose draws
    count as C(pool, x) (Vandermonde); the others are folded in one at a time over the state
    (b, samples drawn so far). Weights are binomial pmfs with p = k/n: every path has the same
    factor p^k (1-p)^(n-k), so dividing by Binomial(n, p) at k gives the hypergeometric
    probability, and all intermediate values stay in [0, 1] (no overflow at n = 1024). A t
    whose own hypergeometric probability is negligible (`_NEGLIGIBLE`) is skipped.
    """
    n = sum(sizes) + no_answer
    own = sizes[target]
    others = sizes[:target] + sizes[target + 1:]
    own_pmf = pmfs(own, min(own, k))
    rest_pmf = pmfs(n - own, k)
    norm = pmfs(n, k)[k]
    total = 0.0
    for t in range(max(1, k - (n - own)), min(own, k) + 1):
        rest = k - t
        if own_pmf[t] * rest_pmf[rest] < _NEGLIGIBLE * norm:
            continue
        pool = no_answer + sum(s for s in others if s < t)
        rivals = [s for s in others if s >= t]
        if pool + t * len(rivals) < rest:
            continue  # the others cannot absorb the rest of the draw while staying <= t
        ties = _tie_weights(pool, rivals, t, rest, pmfs)
        total += own_pmf[t] * float(ties @ (1.0 / np.arange(1, ties.size + 1)))
    return total / norm


def _tie_weights(pool: int, rivals: list[int], t: int, rest: int,
                 pmfs: _PmfTable) -> FloatArray:
    """Weight of the other clusters drawing ``rest`` samples, each <= t, by ties b at exactly t."""
    rows = min(len(rivals), rest // t) + 1
    w = np.zeros((rows, rest + 1))
    w[0] = pmfs(pool, rest)
    for s in rivals:
        pmf = pmfs(s, t)
        grown = _convolve_rows(w, pmf[:t])
        if rows > 1:  # (rows > 1 implies t <= rest)
            grown[1:, t:] += pmf[t] * w[:-1, :rest + 1 - t]
        w = grown
    return w[:, rest]


def _convolve_rows(w: FloatArray, a: FloatArray) -> FloatArray:
    """Each row of ``w`` convolved with ``a``, truncated to w's width."""
    cols = w.shape[1]
    if w.shape[0] < a.size:
        return np.stack([np.convolve(row, a)[:cols] for row in w])
    out = np.zeros_like(w)
    for x, ax in enumerate(a[:cols].tolist()):
        out[:, x:] += ax * w[:, :cols - x]
    return out


def _binomial_pmf(s: int, upto: int, p: float) -> FloatArray:
    """P(X = x) for X ~ Binomial(s, p), x = 0 .. upto (zero past s)."""
    out = np.zeros(upto + 1)
    if p >= 1.0:
        if s <= upto:
            out[s] = 1.0
        return out
    x = np.arange(min(s, upto) + 1)
    lf = log_factorials(s)
    out[:x.size] = np.exp(lf[s] - lf[x] - lf[s - x] + x * math.log(p) + (s - x) * math.log1p(-p))
    return out
