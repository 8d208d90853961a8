"""A stand-in sampler for the live tests: another process that appends samples and grades to the
running run ``rl-live`` with the store API, one problem per transaction; writing the last
sample index marks the run finished.

usage: python live_writer.py DB [first_idx last_idx]
"""

from __future__ import annotations

import sys

from reachscope.store import GradeIn, SampleIn, open_db
from reachscope.store.grades import write_grades
from reachscope.store.problems import problems_of
from reachscope.store.runs import get_run, update_run
from reachscope.store.samples import write_samples


def main(path: str, first: int = 2, last: int = 8) -> None:
    db = open_db(path)
    run = get_run(db, "rl-live")
    problems = problems_of(db, dataset=run.dataset)
    for pid, problem in sorted(problems.items()):
        with db.atomic():
            samples = [
                SampleIn(problem_id=pid, sample_idx=j, n_tokens=60, finish_reason="stop",
                         text=f"Working step by step on problem {problem.idx}.\n\n"
                              f"The answer is $\\boxed{{{problem.answer}}}$.")
                for j in range(first, last)
            ]
            write_samples(db, run.id, samples)
            ids = dict(db.execute(
                "SELECT sample_idx, id FROM samples WHERE run_id = ? AND problem_id = ?",
                [run.id, pid]).fetchall())
            write_grades(db, [GradeIn(sample_id=ids[j], grader="math", verdict="correct",
                                      answer=problem.answer) for j in range(first, last)])
    if last >= 8:
        with db.atomic():
            update_run(db, run.id, status="finished")
    db.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], *(int(a) for a in args[1:3]))
