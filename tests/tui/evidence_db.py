"""A small database for the evidence, trajectory and validated-curve tests, built with the store
API: one dataset whose problem indices are not their ids (idx = 100 + 7 i), a base run and
checkpoints ``rl-step400`` and ``rl-step100`` (created in that order: the step orders them),
sampled with other max_tokens than the base."""

from __future__ import annotations

from pathlib import Path

from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store.grades import write_grades
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run
from reachscope.store.samples import write_samples

DATASET = "toy-steps"
N = 8
#: correct samples of N per problem, per run.
CORRECT = {
    "base": [0, 1, 2, 8, 4, 0, 3, 6, 1, 8],
    "rl-step400": [3, 0, 8, 8, 8, 0, 5, 8, 0, 8],
    "rl-step100": [1, 1, 4, 8, 6, 0, 4, 7, 1, 8],
}
MAX_TOKENS = {"base": 1024, "rl-step400": 3072, "rl-step100": 3072}


def idx_of(i: int) -> int:
    return 100 + 7 * i


def build(path: Path, runs: tuple[str, ...] = tuple(CORRECT)) -> dict[str, int]:
    """Build the database with ``runs`` (labels of CORRECT); returns run ids by label."""
    db = open_db(path)
    ids = {}
    with db.atomic():
        # A problem of another dataset first, so that ids and indices differ twice over.
        upsert_problems(db, "other", [ProblemIn(0, "unrelated", "0")])
        pids = upsert_problems(db, DATASET, [ProblemIn(idx_of(i), f"problem {i}: 2 + {i}?",
                                                       str(2 + i)) for i in range(10)])
        for label in runs:
            run_id, _ = get_or_create_run(db, RunSpec(
                label=label, dataset=DATASET, model=f"m/{label}", n_target=N,
                status="finished", primary_grader="math",
                params={"n": N, "max_tokens": MAX_TOKENS[label], "temperature": 0.6}))
            ids[label] = run_id
            write_samples(db, run_id, [SampleIn(pid, j, f"{label} {i} {j}")
                                       for i, pid in enumerate(pids) for j in range(N)])
            sid = {(p, j): s for s, p, j in db.execute(
                "SELECT id, problem_id, sample_idx FROM samples WHERE run_id = ?", [run_id])}
            write_grades(db, [
                GradeIn(sid[(pid, j)], "math", "correct" if j < c else "incorrect",
                        str(2 + i) if j < c else str(50 + j % 3))
                for i, (pid, c) in enumerate(zip(pids, CORRECT[label])) for j in range(N)])
    db.close()
    return ids
