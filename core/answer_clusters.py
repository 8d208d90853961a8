"""Clustering stored answers with the grader's own equivalence (issue 11).

After grading, each (run, problem, grader) has distinct extracted answers in the store's
`answer_counts`; answers the grader judges equal (``1/2``, ``0.5``, ``\\frac12``) are put in
one cluster, named by its first member, with `answers.cluster_answers` semantics: existing
clusters first (largest first), then the new answers, most frequent first; each joins the first
cluster whose first member it is the same as. Comparisons run in the grading pool (math-verify
needs ``SIGALRM`` and worker processes), a round at a time across all problems: a problem's
next answer is compared with all its clusters at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlite_utils
from reachscope.store import answers as store_answers

from .answers import cluster_answers
from .graders import GradingPool
from .graders.registry import compares_answers
from .vote_cache import VoteCacheFill, fill_vote_cache


@dataclass
class ClusterSummary:
    """What one `cluster_pending` did: problems and answers clustered, clusters started,
    comparisons asked of the grader, seconds, and the maj@k cache fill that followed."""

    grader: str
    problems: int = 0
    answers: int = 0
    new_clusters: int = 0
    comparisons: int = 0
    seconds: float = 0.0
    votes: VoteCacheFill | None = None


def cluster_pending(db: sqlite_utils.Database, pool: GradingPool,
                    run_ids: list[int] | None = None) -> ClusterSummary:
    """Give every stored answer of ``pool``'s grader without a cluster one.

    A grader without an answer equivalence (``code``) leaves answers unclustered: readers group
    them by exact string. Idempotent: a second call finds nothing pending. Then the maj@k of
    every (run, problem) whose clusters (or counts) changed is computed and cached
    (`vote_cache.fill_vote_cache`), also for a grader without an equivalence.

    Args:
        db: a writable database.
        pool: a started grading pool of the grader whose answers to cluster.
        run_ids: only these runs (default every run with answers of that grader).
    """
    start = time.monotonic()
    grader = pool.grader_name
    summary = ClusterSummary(grader)
    if not compares_answers(grader):
        summary.votes = fill_vote_cache(db, grader, run_ids)
        return summary
    groups = store_answers.pending_answers(db, grader, run_ids)
    known: list[dict[tuple[str, str], bool]] = [{} for _ in groups]
    reps = [list(g.clusters) for g in groups]
    for step in range(max((len(g.pending) for g in groups), default=0)):
        pairs: list[tuple[str, str]] = []
        owners: list[int] = []
        for gi, group in enumerate(groups):
            if step < len(group.pending):
                answer = group.pending[step]
                pairs += [(r, answer) for r in reps[gi]]
                owners += [gi] * len(reps[gi])
        verdicts = pool.same_answers(pairs) if pairs else []
        summary.comparisons += len(pairs)
        for (first, answer), gi, verdict in zip(pairs, owners, verdicts):
            known[gi][(first, answer)] = verdict
        for gi, group in enumerate(groups):
            if step < len(group.pending):
                answer = group.pending[step]
                if not any(known[gi].get((r, answer), False) for r in reps[gi]):
                    reps[gi].append(answer)
    rows: list[tuple[int, int, str, str]] = []
    for gi, group in enumerate(groups):
        existing = set(group.clusters)
        order = group.clusters + group.pending
        table = known[gi]

        def same(first: str, answer: str, table: dict[tuple[str, str], bool] = table,
                 existing: set[str] = existing) -> bool:
            # Existing clusters stay apart; every other pair asked was compared above.
            return answer not in existing and table.get((first, answer), False)

        for members in cluster_answers(order, same):
            label = order[members[0]]
            rows += [(group.run_id, group.problem_id, order[i], label) for i in members
                     if order[i] not in existing]
        summary.new_clusters += len(reps[gi]) - len(group.clusters)
    with db.atomic():
        store_answers.set_clusters(db, grader, rows)
    summary.problems = len(groups)
    summary.answers = len(rows)
    summary.seconds = time.monotonic() - start
    summary.votes = fill_vote_cache(db, grader, run_ids)
    return summary
