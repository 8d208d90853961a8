"""The lab's step checker (the labeller of the demo's review queue) against the trace generator."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest
from reachscope.core.demo import demo_db_path
from reachscope.store import open_db
from reachscope.store import review as store_review
from reachscope.store.annotations import labels_of_samples

from sample_db.lab import stepcheck, task


@pytest.mark.parametrize("strategy", ["direct", "split", "mixed"])
def test_every_clean_solution_of_the_test_set_is_valid(strategy: str) -> None:
    rng = random.Random(0)
    for problem in task.test_set():
        trace = task.render_solution(problem, rng, strategy=strategy)
        assert stepcheck.check_trace(problem.text, trace) == ("valid", "every step recomputed")


def test_a_changed_step_result_is_flawed_even_with_the_right_answer() -> None:
    rng = random.Random(1)
    flawed = 0
    for problem in task.test_set():
        if problem.difficulty < 2:
            continue
        lines = task.render_solution(problem, rng, strategy="direct").splitlines()
        # Wrong first result, but the next line still starts from the right value: the
        # answer is right and the chain is not.
        head, result = lines[0].rsplit("=", 1)
        lines[0] = f"{head}={int(result) + 1}"
        label, reason = stepcheck.check_trace(problem.text, "\n".join(lines))
        assert label == "flawed" and reason.startswith("line 1"), (problem.text, reason)
        flawed += 1
    assert flawed == 250


def test_noisy_traces_are_valid_only_when_they_reach_the_answer() -> None:
    rng = random.Random(2)
    seen = {"valid": 0, "flawed": 0}
    for problem in task.test_set():
        trace = task.render_solution(problem, rng, noise=0.3)
        label, _ = stepcheck.check_trace(problem.text, trace)
        seen[label] += 1
        boxed = int(re.search(r"\\boxed\{(-?\d+)\}", trace).group(1))
        if label == "valid":
            assert boxed == problem.answer
    assert seen["valid"] and seen["flawed"]


def test_guesses_and_malformed_traces() -> None:
    assert stepcheck.check_trace("What is 6-4?", "\\boxed{2}")[0] == "guess"
    assert stepcheck.check_trace("What is 6-4?", "6-4=2")[0] == "flawed"  # no boxed line
    assert stepcheck.check_trace("What is 6-4?", "6+4=2\n\\boxed{2}")[0] == "flawed"
    assert stepcheck.check_trace("What is 49/7?", "49/7=7\n\\boxed{7}")[0] == "valid"
    assert stepcheck.check_trace("What is 49/7?", "49/3=16\n\\boxed{16}")[0] == "flawed"
    with pytest.raises(ValueError, match="not a lab problem"):
        stepcheck.problem_steps("Compute 3+4.")


def test_the_demo_queue_carries_the_checkers_labels(tmp_path: Path) -> None:
    """The committed demo's queue is labelled by the checker: relabelling a copy changes none."""
    copy = tmp_path / "demo.db"
    shutil.copyfile(demo_db_path(), copy)
    db = open_db(copy, read_only=True)
    (queue,) = [q for q in store_review.list_queues(db) if q.name == "review"]
    items = store_review.queue_items(db, queue.id, -1, 100_000)
    before = labels_of_samples(db, [it.sample_id for it in items], "step-checker")
    db.close()
    assert items and len(before) == len(items)
    counts = stepcheck.label_queue(copy)
    assert sum(counts.values()) == len(items)
    db = open_db(copy, read_only=True)
    assert labels_of_samples(db, [it.sample_id for it in items], "step-checker") == before
    db.close()
    assert set(before.values()) <= {"valid", "flawed", "guess"}
