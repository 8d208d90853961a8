"""Validated pass@k of compared runs (issue 13): CoT-pass@k from the stored review labels.

Reads every review queue that holds samples of a run (through store/review.py) and applies
core/review.py's :func:`~reachscope.core.review.cot_pass_at_k` on the queue's problems, in
three readings of the correct samples nobody judged: left out (the estimate, ``n' = n - (c -
judged)``), counted invalid (a lower bound) and counted valid (an upper bound). Labels of
several reviewers pool as core/review.py's ``judged_valid`` does (valid only if all agree).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlite_utils
from reachscope.store import review as store_review

from .analysis import RunCounts
from .metrics import FloatArray, pass_at_k_curve
from .review import REVIEW_LABELS, cot_pass_at_k, judged_valid


@dataclass
class ValidatedCurves:
    """One run's curves on its reviewed problems, on the caller's k grid (NaN past n')."""

    key: str
    problems: int
    correct: int  # correct samples on the reviewed problems
    judged: int  # of those, samples with a judgement
    valid: int  # of those, judged valid
    plain: FloatArray  # pass@k on the reviewed problems
    estimate: FloatArray  # CoT-pass@k, unjudged correct samples left out
    lower: FloatArray  # unjudged correct samples counted invalid
    upper: FloatArray  # unjudged correct samples counted valid


def _judgements(db: sqlite_utils.Database, run_id: int, run_ref: str,
                reviewer: str | None) -> tuple[set[int], Counter[int], Counter[int]]:
    """The reviewed problems of a run and, per problem, its judged and valid samples."""
    problems: set[int] = set()
    judged: Counter[int] = Counter()
    good: Counter[int] = Counter()
    for queue in store_review.list_queues(db):
        if run_ref not in queue.params.get("runs", []):
            continue
        problems |= set(queue.selection.get("problems", []))
        notes = store_review.queue_labels(db, queue.id, REVIEW_LABELS)
        valid = judged_valid({r: {s: ln[0] for s, ln in per.items()} for r, per in notes.items()},
                             reviewer)
        after = -1
        while page := store_review.queue_items(db, queue.id, after, 1000):
            after = page[-1].position
            for item in page:
                if item.run_id == run_id and item.sample_id in valid:
                    judged[item.problem_id] += 1
                    good[item.problem_id] += valid[item.sample_id]
    return problems, judged, good


def validated_curves(db: sqlite_utils.Database, counts: list[RunCounts], keys: list[str],
                     ks: list[int], reviewer: str | None = None) -> list[ValidatedCurves]:
    """The validated curves of each run with at least one judged sample (none: empty list).

    Args:
        counts: the runs' counts (as `analysis.compare` loaded them, with their grader).
        keys: a name per run.
        reviewer: use only this reviewer's labels (default: every reviewer's, pooled).
    """
    out: list[ValidatedCurves] = []
    for rc, key in zip(counts, keys):
        problems, judged, good = _judgements(db, rc.run.id, rc.run.ref, reviewer)
        if not sum(judged.values()):
            continue
        nc = dict(zip(rc.problem_ids, zip(rc.n.tolist(), rc.c.tolist())))
        rows = [(n, c, min(judged[p], c), min(good[p], judged[p], c))
                for p in sorted(problems) if p in nc for n, c in [nc[p]]]
        if not rows:
            continue
        ns, cs = [r[0] for r in rows], [r[1] for r in rows]
        # Counted valid: every unjudged correct sample joins the judged ones, all of them valid.
        upper_rows = [(n, c, c, v + c - j) for n, c, j, v in rows]
        out.append(ValidatedCurves(
            key=key, problems=len(rows), correct=sum(cs), judged=sum(r[2] for r in rows),
            valid=sum(r[3] for r in rows), plain=pass_at_k_curve(ns, cs, ks),
            estimate=cot_pass_at_k(rows, ks, "exclude"), lower=cot_pass_at_k(rows, ks, "invalid"),
            upper=cot_pass_at_k(upper_rows, ks, "exclude")))
    return out
