"""Likelihood evidence (pure): where one model's samples sit in another model's perplexity.

For a sample y of problem x and a scorer model S, ``log PPL_S(y) = -mean_t log p_S(y_t | x,
y_<t)`` over the scorer's tokens of the completion (a scorer with another tokenizer than the
generator counts its own tokens, so its perplexities are per scorer token). Yue et al. (2025)
found that ``PPL_base`` of RL samples sits in the low part of ``PPL_base`` of the base's own
samples: RL picks paths the base already finds likely. The functions here take plain arrays and
rows; the queries are in :mod:`reachscope.store.scores`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Quartiles:
    """Median and quartiles of some values (NaN when there are none)."""

    n: int
    q1: float
    median: float
    q3: float

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "q1": _num(self.q1), "median": _num(self.median),
                "q3": _num(self.q3)}


@dataclass
class ScoredRun:
    """One run's samples under one scorer, as arrays.

    Attributes:
        log_ppl: ``-mean log-prob`` per sample.
        problem: the problem id of each sample.
        correct: 1 correct, 0 not, -1 ungraded.
        entropy: mean token entropy per sample (NaN where the backend gave none).
    """

    log_ppl: np.ndarray
    problem: np.ndarray
    correct: np.ndarray
    entropy: np.ndarray

    @classmethod
    def from_rows(cls, rows: Iterable[Any]) -> ScoredRun:
        """From rows with ``problem_id``, ``mean_logprob``, ``mean_entropy``, ``correct``."""
        problem, log_ppl, entropy, correct = [], [], [], []
        for r in rows:
            problem.append(r.problem_id)
            log_ppl.append(-r.mean_logprob)
            entropy.append(np.nan if r.mean_entropy is None else r.mean_entropy)
            correct.append(-1 if r.correct is None else int(r.correct))
        return cls(np.asarray(log_ppl, dtype=float), np.asarray(problem, dtype=np.int64),
                   np.asarray(correct, dtype=np.int8), np.asarray(entropy, dtype=float))

    def solved(self) -> set[int]:
        """Problems with at least one correct sample."""
        return {int(p) for p in np.unique(self.problem[self.correct == 1])}


def quartiles(values: np.ndarray) -> Quartiles:
    """Median and quartiles of ``values``."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return Quartiles(0, float("nan"), float("nan"), float("nan"))
    q1, med, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    return Quartiles(int(values.size), float(q1), float(med), float(q3))


def per_problem_medians(run: ScoredRun) -> np.ndarray:
    """The median log PPL of each problem's samples, by problem id."""
    if run.problem.size == 0:
        return np.zeros(0)
    order = np.argsort(run.problem, kind="stable")
    problems, starts = np.unique(run.problem[order], return_index=True)
    groups = np.split(run.log_ppl[order], starts[1:])
    return np.asarray([np.median(g) for g in groups], dtype=float)


def share_below(values: np.ndarray, threshold: float) -> float | None:
    """The share of ``values`` below ``threshold``, ties counted half (None for no values).

    Short completions repeat exactly, so many samples tie at the median; counting them half
    keeps a run's own share near 0.5.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0 or np.isnan(threshold):
        return None
    return float(np.mean(values < threshold) + 0.5 * np.mean(values == threshold))


@dataclass
class Cell:
    """One scorer x generator cell of the matrix."""

    scorer: str
    run: str
    pooled: Quartiles
    per_problem: Quartiles
    mean_entropy: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"scorer": self.scorer, "run": self.run, "pooled": self.pooled.as_dict(),
                "per_problem": self.per_problem.as_dict(), "mean_entropy": self.mean_entropy}


def cell(scorer: str, run: str, scored: ScoredRun) -> Cell:
    """Quartiles of log PPL pooled over samples and over per-problem medians, and entropy."""
    finite = scored.entropy[~np.isnan(scored.entropy)]
    entropy = float(np.mean(finite)) if finite.size else None
    return Cell(scorer, run, quartiles(scored.log_ppl), quartiles(per_problem_medians(scored)),
                entropy)


@dataclass
class Placement:
    """Where ``other``'s samples sit in the scorer's log PPL of its own run ``own``.

    Each share is the fraction of samples whose log PPL is below the median log PPL of the own
    run's samples, ties counted half (0.5 where both runs' samples are alike under the scorer;
    lower for samples the scorer finds less likely). ``only_own_solves`` restricts both runs to
    the problems the own run solves and the other does not, with the own run's median there.
    """

    scorer: str
    own: str
    other: str
    own_median: float
    shares: dict[str, float | None] = field(default_factory=dict)
    own_shares: dict[str, float | None] = field(default_factory=dict)
    only_own_solves_problems: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"scorer": self.scorer, "own_run": self.own, "other_run": self.other,
                "own_median_log_ppl": _num(self.own_median), "share_below": self.shares,
                "own_share_below": self.own_shares,
                "only_own_solves_problems": self.only_own_solves_problems}


def placement(scorer: str, own_name: str, own: ScoredRun, other_name: str,
              other: ScoredRun) -> Placement:
    """The shares of ``other``'s samples below ``own``'s median log PPL under one scorer.

    ``own_shares`` gives the same split for the own run's samples, for reference (its ``all``
    is 0.5 up to ties at the median).
    """
    median = quartiles(own.log_ppl).median
    result = Placement(scorer, own_name, other_name, median)
    for target, run in ((result.shares, other), (result.own_shares, own)):
        target["all"] = share_below(run.log_ppl, median)
        target["correct"] = share_below(run.log_ppl[run.correct == 1], median)
        target["incorrect"] = share_below(run.log_ppl[run.correct == 0], median)
    only = sorted(own.solved() - other.solved())
    result.only_own_solves_problems = len(only)
    own_only = own.log_ppl[np.isin(own.problem, only)]
    other_only = other.log_ppl[np.isin(other.problem, only)]
    only_median = quartiles(own_only).median
    result.shares["only_own_solves"] = share_below(other_only, only_median)
    result.own_shares["only_own_solves"] = share_below(own_only, only_median)
    return result


def evidence(scored: Mapping[tuple[str, str], ScoredRun],
             own_runs: Mapping[str, str]) -> dict[str, Any]:
    """The whole likelihood report.

    Args:
        scored: ``(scorer, run) -> ScoredRun`` for the pairs that have scores.
        own_runs: ``scorer -> the run it generated`` (where one of the runs is its own).

    Returns:
        ``{"matrix": [cells], "placements": [placements]}`` as plain data (JSON-ready).
    """
    cells = [cell(s, r, v).as_dict() for (s, r), v in scored.items()]
    placements = []
    for scorer, own in own_runs.items():
        if (scorer, own) not in scored:
            continue
        for (s, run), values in scored.items():
            if s == scorer and run != own:
                placements.append(
                    placement(scorer, own, scored[(scorer, own)], run, values).as_dict())
    return {"matrix": cells, "placements": placements}


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)
