"""Reasoning review: which samples to review, reviewer agreement, and CoT-pass@k.

Pure functions over plain rows (no database): the CLI (`reachscope review`) reads counts and
labels through store/review.py and calls these.

Definitions (also in the README, "Reasoning review"):

* A problem is *selected* when, for at least one of the runs, its accuracy ``c / n`` under that
  run's grader lies in ``(0, max_accuracy]`` (Yue et al. 2025, appendix D.2: ``0 < acc < 5%``).
* A selected problem is *guessable* when a direct-answer run (no reasoning) is correct on it with
  accuracy strictly above a threshold; guessable problems are left out of the queue.
* The queue holds, for every run and every kept problem, up to ``per_problem`` of that run's
  correct samples, drawn with a seeded RNG, then all runs' items shuffled together.
* Labels: ``valid`` (answer and reasoning correct), ``flawed`` (right answer, wrong reasoning),
  ``guess`` (right answer without real reasoning), ``ambiguous``; ``skip`` moves on without a
  judgement and counts as unreviewed everywhere below.
* CoT-pass@k of a run is the mean over the queue's problems of the unbiased pass@k with
  ``c' = correct samples judged valid`` and ``n' = n - (c - r)``, where ``r`` is the number of
  correct samples that were judged: correct samples nobody judged are left out of the
  population (counted neither as successes nor as failures). ``unreviewed="invalid"`` keeps
  them in as failures instead (``n' = n``), a lower bound.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .metrics import FloatArray, pass_at_k_curve

#: Key -> label of the review screen (``u`` undoes, in the app).
LABEL_KEYS: dict[str, str] = {
    "v": "valid", "f": "flawed", "g": "guess", "a": "ambiguous", "s": "skip",
}
#: Every label a review stores; an item carrying one of these is done for its reviewer.
REVIEW_LABELS: tuple[str, ...] = tuple(LABEL_KEYS.values())
#: Labels that are a judgement (all but ``skip``): what agreement and CoT-pass@k count.
JUDGEMENTS: tuple[str, ...] = ("valid", "flawed", "guess", "ambiguous")
#: Reviewer names of LLM judges (``reachscope judge``) start with this.
JUDGE_PREFIX = "judge:"


def judge_reviewer(model: str) -> str:
    """The reviewer name under which a judge model's labels are stored."""
    return JUDGE_PREFIX + model


def is_judge(reviewer: str) -> bool:
    """Whether labels of ``reviewer`` come from an LLM judge rather than a person."""
    return reviewer.startswith(JUDGE_PREFIX)

Counts = Mapping[int, tuple[int, int]]  # problem id -> (n, c)


def select_problems(counts_by_run: Mapping[str, Counts], max_accuracy: float) -> set[int]:
    """Problems whose accuracy lies in ``(0, max_accuracy]`` for at least one run.

    Args:
        counts_by_run: run -> problem id -> ``(n, c)``.
        max_accuracy: the upper bound, inclusive (0.05 for the paper's selection).
    """
    return {
        pid
        for counts in counts_by_run.values()
        for pid, (n, c) in counts.items()
        if n > 0 and 0 < c and c / n <= max_accuracy
    }


def guessable_problems(direct_counts: Counts, threshold: float,
                       problems: Iterable[int] | None = None) -> set[int]:
    """Problems a direct-answer run gets right with accuracy strictly above ``threshold``.

    Args:
        direct_counts: problem id -> ``(n, c)`` of the direct-answer run.
        threshold: accuracy above which a problem counts as guessable.
        problems: restrict to these problems (default: all in ``direct_counts``).
    """
    keep = set(direct_counts) if problems is None else set(problems)
    return {pid for pid, (n, c) in direct_counts.items()
            if pid in keep and n > 0 and c / n > threshold}


def pick_samples(correct: Mapping[tuple[str, int], Sequence[int]], per_problem: int,
                 seed: int) -> list[int]:
    """Up to ``per_problem`` sample ids per (run, problem), all runs mixed in a seeded order.

    The draw depends only on the seed and on the sorted keys and ids, never on dict order, so
    the same database and seed give the same queue.

    Args:
        correct: ``(run, problem id)`` -> ids of that run's correct samples on the problem.
        per_problem: the most samples to take per (run, problem).
        seed: seed of the draw and of the shuffle.
    """
    rng = random.Random(seed)
    items: list[int] = []
    for key in sorted(correct):
        ids = sorted(correct[key])
        items.extend(ids if len(ids) <= per_problem else sorted(rng.sample(ids, per_problem)))
    rng.shuffle(items)
    return items


@dataclass
class Agreement:
    """How two reviewers agree on the samples both judged (``skip`` left out).

    Attributes:
        n: samples both judged.
        agreed: how many of them got the same label.
        p_o: observed agreement ``agreed / n``.
        p_e: agreement expected by chance from the two reviewers' label frequencies.
        kappa: Cohen's kappa ``(p_o - p_e) / (1 - p_e)``; None where it is undefined: no common
            sample, or ``p_e = 1`` (both gave one and the same label to every sample, so chance
            explains all of the agreement).
        disagreements: ``sample id -> (label of a, label of b)`` where they differ.
    """

    n: int
    agreed: int
    p_o: float
    p_e: float
    kappa: float | None
    disagreements: dict[int, tuple[str, str]] = field(default_factory=dict)


def cohen_kappa(a: Mapping[int, str], b: Mapping[int, str]) -> Agreement:
    """Cohen's kappa of two reviewers over the samples both judged.

    Args:
        a: sample id -> label of the first reviewer.
        b: sample id -> label of the second reviewer.
    """
    common = sorted(s for s in a.keys() & b.keys()
                    if a[s] in JUDGEMENTS and b[s] in JUDGEMENTS)
    n = len(common)
    if n == 0:
        return Agreement(0, 0, float("nan"), float("nan"), None)
    agreed = sum(a[s] == b[s] for s in common)
    p_o = agreed / n
    cats = {a[s] for s in common} | {b[s] for s in common}
    p_e = sum(sum(a[s] == k for s in common) * sum(b[s] == k for s in common)
              for k in cats) / (n * n)
    kappa = None if p_e >= 1.0 else (p_o - p_e) / (1.0 - p_e)
    return Agreement(n, agreed, p_o, p_e, kappa,
                     {s: (a[s], b[s]) for s in common if a[s] != b[s]})


Consensus = Literal["all", "any"]


def judged_valid(labels: Mapping[str, Mapping[int, str]], reviewer: str | None = None,
                 consensus: Consensus = "all") -> dict[int, bool]:
    """Whether each judged sample counts as valid.

    Args:
        labels: reviewer -> sample id -> label.
        reviewer: use only this reviewer's labels (a judge's too); None pools the people's
            labels by ``consensus``: LLM judges (:func:`is_judge`) are left out of the pool, so
            a judge's labels count only where they are asked for by name.
        consensus: with several reviewers on a sample, ``all``: valid only if every judgement
            is ``valid``; ``any``: valid if at least one is.

    Returns:
        sample id -> valid, for the samples with at least one judgement (``skip`` is none).
    """
    pools = ([labels.get(reviewer, {})] if reviewer is not None
             else [per for who, per in labels.items() if not is_judge(who)])
    votes: dict[int, list[bool]] = {}
    for per_sample in pools:
        for sid, label in per_sample.items():
            if label in JUDGEMENTS:
                votes.setdefault(sid, []).append(label == "valid")
    pick = all if consensus == "all" else any
    return {sid: pick(v) for sid, v in votes.items()}


Unreviewed = Literal["exclude", "invalid"]


def cot_counts(n: int, c: int, judged: int, valid: int,
               unreviewed: Unreviewed = "exclude") -> tuple[int, int]:
    """``(n', c')`` of one problem for CoT-pass@k.

    Args:
        n: samples of the run on the problem.
        c: correct samples among them.
        judged: correct samples with a judgement.
        valid: judged samples counted valid.
        unreviewed: ``exclude`` drops correct samples nobody judged (``n' = n - (c - judged)``);
            ``invalid`` counts them as failures (``n' = n``).
    """
    if not 0 <= valid <= judged <= c <= n:
        raise ValueError(f"need 0 <= valid <= judged <= c <= n, got {valid}, {judged}, {c}, {n}")
    return (n - (c - judged) if unreviewed == "exclude" else n), valid


def cot_pass_at_k(rows: Sequence[tuple[int, int, int, int]], ks: Sequence[int],
                  unreviewed: Unreviewed = "exclude") -> FloatArray:
    """CoT-pass@k of a run: mean over problems of pass@k on :func:`cot_counts`.

    Args:
        rows: ``(n, c, judged, valid)`` per problem.
        ks: the k values.
        unreviewed: how correct samples without a judgement count (see :func:`cot_counts`).

    Returns:
        One value per k; NaN where some problem has ``n' < k``.
    """
    if not rows:
        return np.full(len(ks), np.nan)
    pairs = [cot_counts(*r, unreviewed=unreviewed) for r in rows]
    return pass_at_k_curve([p[0] for p in pairs], [p[1] for p in pairs], ks)


def pass_at_k_real(n: int, c: float, k: int) -> float:
    """The unbiased pass@k ``1 - C(n - c, k) / C(n, k)`` extended to a real ``c``.

    ``C(n - c, k) / C(n, k)`` is the product of ``(n - c - i) / (n - i)`` over ``i < k``; with
    a real ``c`` each factor is clamped at 0 (the product is 0 once ``n - c - k + 1 <= 0``,
    as for an integer ``c > n - k``). Equal to the usual estimator at integer ``c``, increasing
    and continuous in ``c``. NaN when ``k > n``.
    """
    if k > n:
        return float("nan")
    if c <= 0:
        return 0.0
    if n - c - k + 1 <= 0:
        return 1.0
    return 1.0 - math.exp(math.lgamma(n - c + 1) - math.lgamma(n - c - k + 1)
                          + math.lgamma(n - k + 1) - math.lgamma(n + 1))


@dataclass
class ValidatedEstimate:
    """Validated pass@k of one run on its reviewed problems (at least one judged sample).

    With ``n, c`` a problem's counts, ``r`` its correct samples judged and ``v`` those valid:
    ``lower`` counts the unjudged correct samples invalid (``c' = v``), ``upper`` valid
    (``c' = v + c - r``), and ``estimate`` applies the judged valid fraction to every correct
    sample (``c' = c v / r``, a real number: :func:`pass_at_k_real`); ``n' = n`` in all three.
    ``low``/``high`` bound the estimate by a two-level bootstrap: problems resampled with
    replacement, and each drawn problem's ``v`` redrawn as ``Binomial(r, v / r)``.

    Attributes:
        problems: reviewed problems.
        with_valid: of those, problems with at least one valid sample (the paper's count).
        correct, judged, valid: sums of ``c``, ``r`` and ``v`` over them.
    """

    problems: int
    with_valid: int
    correct: int
    judged: int
    valid: int
    plain: FloatArray
    lower: FloatArray
    estimate: FloatArray
    upper: FloatArray
    low: FloatArray
    high: FloatArray
    level: float
    resamples: int


def validated_estimate(rows: Sequence[tuple[int, int, int, int]], ks: Sequence[int],
                       resamples: int = 1000, level: float = 0.95,
                       seed: int = 0) -> ValidatedEstimate | None:
    """The three validated curves of a run and the estimate's bootstrap interval.

    Args:
        rows: ``(n, c, judged, valid)`` per problem; problems with nothing judged are left out.
        ks: the k values.
        resamples: bootstrap replicates (0: no interval, ``low``/``high`` NaN).
        level: the interval's coverage.
        seed: seed of the replicates.

    Returns:
        None when no problem has a judged sample.
    """
    from .metrics import resample_counts

    rows = [r for r in rows if r[2] > 0]
    for r in rows:
        cot_counts(*r)  # validates 0 <= valid <= judged <= c <= n
    if not rows:
        return None
    n = [r[0] for r in rows]
    c = [r[1] for r in rows]
    # table[p][v] = pass@k of problem p had v of its r judged samples been valid.
    table = [np.array([[pass_at_k_real(r[0], r[1] * v / r[2], k) for k in ks]
                       for v in range(r[2] + 1)]) for r in rows]
    estimate = np.mean([table[p][r[3]] for p, r in enumerate(rows)], axis=0)
    low = high = np.full(len(ks), np.nan)
    if resamples > 0:
        weights = resample_counts(len(rows), resamples, seed)  # [B, P]
        rng = np.random.default_rng([seed, 1])
        draws = np.stack([rng.binomial(r[2], r[3] / r[2], size=resamples) for r in rows],
                         axis=1)  # [B, P]
        per = np.stack([table[p][draws[:, p]] for p in range(len(rows))], axis=1)  # [B, P, K]
        reps = np.einsum("bp,bpk->bk", weights, per) / len(rows)
        tail = (1.0 - level) / 2.0
        low, high = np.quantile(reps, [tail, 1.0 - tail], axis=0)
    return ValidatedEstimate(
        problems=len(rows), with_valid=sum(r[3] > 0 for r in rows), correct=sum(c),
        judged=sum(r[2] for r in rows), valid=sum(r[3] for r in rows),
        plain=pass_at_k_curve(n, c, ks), lower=cot_pass_at_k(rows, ks, "invalid"),
        estimate=estimate,
        upper=pass_at_k_curve(n, [r[3] + r[1] - r[2] for r in rows], ks),
        low=low, high=high, level=level, resamples=resamples)
