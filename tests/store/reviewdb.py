"""A hand-built database for the reasoning-review tests: two runs and a direct-answer run.

Counts under grader ``g`` (n = 40 per run and problem; problem i is ``pids[i]``):

=======  ====  ====  ======
problem  base  rl    direct
=======  ====  ====  ======
P0       2     5     0
P1       0     1     (none)
P2       20    40    40
P3       4     0     0
P4       2     12    20
=======  ====  ====  ======

With ``--max-accuracy 0.05`` the selected problems are P0 (base 5%), P1 (rl 2.5%) and P4
(base 5%); the direct run (threshold 0.2) makes P4 guessable (50%). With 4 per (run, problem)
the queue holds base P0 (2), rl P0 (4 of 5) and rl P1 (1): 7 samples.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils
from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.grades import write_grades
from reachscope.store.imports import sample_ids
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run
from reachscope.store.samples import write_samples

N = 40
CORRECT = {
    "base": [2, 0, 20, 4, 2],
    "rl": [5, 1, 40, 0, 12],
    "direct": [0, None, 40, 0, 20],
}


def build_review_db(path: Path) -> tuple[sqlite_utils.Database, list[int], dict[str, int]]:
    """The database above: ``(db, problem ids, run label -> run id)``."""
    db = open_db(path)
    runs: dict[str, int] = {}
    with db.atomic():
        pids = upsert_problems(db, "toy", [ProblemIn(i, f"problem {i}?", str(i))
                                           for i in range(5)])
        for label, correct in CORRECT.items():
            run_id, _ = get_or_create_run(db, RunSpec(label, "toy", primary_grader="g"))
            runs[label] = run_id
            write_samples_for(db, run_id, pids, correct)
    return db, pids, runs


def write_samples_for(db: sqlite_utils.Database, run_id: int, pids: list[int],
                      correct: list[int | None]) -> None:
    write_samples(db, run_id, [SampleIn(p, i, f"answer {i}") for p, c in zip(pids, correct)
                               if c is not None for i in range(N)])
    ids = sample_ids(db, run_id, pids)
    of = dict(zip(pids, correct))
    write_grades(db, [GradeIn(sid, "g", "correct" if idx < (of[p] or 0) else "incorrect")
                      for (p, idx), sid in ids.items()])
