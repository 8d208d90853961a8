"""Score a stored run: page unscored samples, score them in batches, write each batch.

Each batch is one transaction, idempotent on (sample, scorer), and the next page is read after
the last one was written, so a killed scoring loses at most its unwritten batch and a rerun
scores exactly the samples without a score.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils
from reachscope.store import problems as store_problems
from reachscope.store import scores as store_scores
from reachscope.store.models import Run

from .base import ScoreItem, Scorer
from .prompts import PromptRecipe


@dataclass
class ScoreSummary:
    """What one :func:`score_run` did."""

    run: str
    scorer: str
    scored: int = 0
    failed: int = 0
    tokens: int = 0
    seconds: float = 0.0


def count_to_score(db: sqlite_utils.Database, run: Run, scorer_id: int,
                   first: int | None = None) -> int:
    """Samples of ``run`` without a score from the scorer (of index < ``first`` if given)."""
    return store_scores.count_to_score(db, run.id, scorer_id, first)


def score_run(db: sqlite_utils.Database, run: Run, scorer: Scorer, scorer_name: str,
              scorer_id: int, recipe: PromptRecipe, batch_size: int = 512,
              progress: Callable[[int], None] | None = None,
              first: int | None = None) -> ScoreSummary:
    """Score the samples of ``run`` that ``scorer_id`` has not scored.

    Args:
        db: a writable database.
        run: the run whose samples are scored.
        scorer: an open scorer.
        scorer_name: its name (for the summary).
        scorer_id: its id in the file (:func:`~reachscope.store.scores.ensure_scorer`).
        recipe: how the run's prompts are made (:func:`~.prompts.run_prompt`).
        batch_size: samples per write transaction (and per call to the scorer).
        progress: called with the number of samples just written.
        first: score only the samples whose index is below this (the first of each problem).
    """
    started = time.monotonic()
    summary = ScoreSummary(run.ref, scorer_name)
    prompts = {pid: recipe.render(p["prompt"] or "")
               for pid, p in store_problems.problems_of_run(db, run.id).items()}
    last = 0
    while True:
        page = store_scores.samples_to_score(db, run.id, scorer_id, last, batch_size, first)
        if not page:
            break
        items = [ScoreItem(sid, prompts[pid], text, recipe.add_special_tokens)
                 for sid, pid, text in page]
        scores = scorer.score(items)
        with db.atomic():
            store_scores.write_scores(db, scorer_id, scores)
        for s in scores:
            if s.error is not None:
                summary.failed += 1
            else:
                summary.scored += 1
                summary.tokens += s.n_tokens or 0
        last = page[-1][0]
        if progress is not None:
            progress(len(page))
    summary.seconds = time.monotonic() - started
    return summary
