"""Validated pass@k of compared runs (issue 13): CoT-pass@k from the stored review labels.

One reading of the labels for the report (`report --validated`) and the app (Compare's
evidence view): per run, the problems of the review queues that hold it, each problem's
``(n, c, judged, valid)`` with the labels of several reviewers pooled as core/review.py's
:func:`~reachscope.core.review.judged_valid` pools them, and the curves of
:func:`~reachscope.core.review.validated_estimate` on the problems with a judged sample: the
estimate (each problem's judged valid fraction applied to its correct count), a lower bound
(unjudged correct samples invalid) and an upper bound (valid).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlite_utils
from reachscope.store.review import run_review_labels

from .analysis import RunCounts
from .metrics import FloatArray
from .review import REVIEW_LABELS, judged_valid, validated_estimate

#: ``(n, c, judged, valid)`` of one problem.
ReviewRow = tuple[int, int, int, int]


def review_rows(db: sqlite_utils.Database, rc: RunCounts,
                reviewer: str | None = None) -> tuple[set[int], list[ReviewRow]]:
    """The problems of the queues holding a run, and ``(n, c, judged, valid)`` of each one the
    run has counts on (problem order).

    Args:
        rc: the run's counts (as `analysis.compare` loaded them, with their grader).
        reviewer: use only this reviewer's labels (default: the people's, pooled; a judge's
            labels count only when named).
    """
    problems, by_sample, problem_of = run_review_labels(db, rc.run.id, rc.run.ref,
                                                        REVIEW_LABELS)
    if not problems:
        return problems, []
    labels: dict[str, dict[int, str]] = {}
    for sid, per in by_sample.items():
        for who, label in per.items():
            labels.setdefault(who, {})[sid] = label
    valid = judged_valid(labels, reviewer)
    judged: Counter[int] = Counter(problem_of[s] for s in valid)
    good: Counter[int] = Counter(problem_of[s] for s, ok in valid.items() if ok)
    nc = dict(zip(rc.problem_ids, zip(rc.n.tolist(), rc.c.tolist())))
    rows = [(n, c, min(judged[p], c), min(good[p], judged[p], c))
            for p in sorted(problems) if p in nc for n, c in [nc[p]]]
    return problems, rows


@dataclass
class ValidatedCurves:
    """One run's curves on its reviewed problems (at least one judged sample), on the caller's
    k grid (NaN past n)."""

    key: str
    problems: int  # reviewed problems
    correct: int  # correct samples on them
    judged: int  # of those, samples with a judgement
    valid: int  # of those, judged valid
    plain: FloatArray  # pass@k on the reviewed problems
    estimate: FloatArray  # CoT-pass@k, the judged valid fraction applied to every correct sample
    lower: FloatArray  # unjudged correct samples counted invalid
    upper: FloatArray  # unjudged correct samples counted valid


def validated_curves(db: sqlite_utils.Database, counts: list[RunCounts], keys: list[str],
                     ks: list[int], reviewer: str | None = None) -> list[ValidatedCurves]:
    """The validated curves of each run with at least one judged sample (none: empty list),
    as `report --validated` computes them (without its bootstrap interval).

    Args:
        counts: the runs' counts (as `analysis.compare` loaded them, with their grader).
        keys: a name per run.
        reviewer: see :func:`review_rows`.
    """
    out: list[ValidatedCurves] = []
    for rc, key in zip(counts, keys):
        _, rows = review_rows(db, rc, reviewer)
        est = validated_estimate(rows, ks, resamples=0)
        if est is None:
            continue
        out.append(ValidatedCurves(
            key=key, problems=est.problems, correct=est.correct, judged=est.judged,
            valid=est.valid, plain=est.plain, estimate=est.estimate, lower=est.lower,
            upper=est.upper))
    return out
