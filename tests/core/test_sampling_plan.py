"""The sampling planner on plain data: resume, seeds per sample, request splitting (no database)."""

from __future__ import annotations

import random

import pytest
from reachscope.core.prompts import load_template
from reachscope.core.sampling import (
    SampleRange,
    SamplingError,
    WorkItem,
    check_resumable,
    index_ranges,
    missing_indices,
    plan_ranges,
    sample_seed,
    split_ranges,
    to_requests,
    work_items,
)

PROBLEMS = [(11, "hash-a"), (12, "hash-b"), (13, "hash-c")]


def _pairs(ranges: list[SampleRange]) -> dict[tuple[int, int], int]:
    """(key, sample index) -> seed of every planned sample, each planned once."""
    items = work_items(ranges)
    out = {(i.key, i.sample_idx): i.seed for i in items}
    assert len(out) == len(items), "a sample was planned twice"
    return out


def test_a_fresh_run_plans_every_sample_in_one_range_per_problem() -> None:
    ranges = plan_ranges(PROBLEMS, 4, {}, run_seed=0)
    assert [(r.key, r.start, r.n) for r in ranges] == [(11, 0, 4), (12, 0, 4), (13, 0, 4)]
    assert [r.seed for r in ranges] == [sample_seed(0, h, 0) for _, h in PROBLEMS]


def test_resume_plans_only_the_missing_indices() -> None:
    stored = {11: {0, 1, 2}, 12: {0, 3}, 13: range(6)}
    ranges = plan_ranges(PROBLEMS, 5, stored, run_seed=3)
    assert [(r.key, r.start, r.n) for r in ranges] == [(11, 3, 2), (12, 1, 2), (12, 4, 1)]
    assert set(_pairs(ranges)) == {(11, 3), (11, 4), (12, 1), (12, 2), (12, 4)}
    # Nothing left: nothing planned (more stored than asked is not "missing" either).
    assert plan_ranges(PROBLEMS, 2, {k: range(3) for k, _ in PROBLEMS}, run_seed=3) == []


def test_seeds_are_per_sample_whatever_else_is_missing() -> None:
    whole = _pairs(plan_ranges(PROBLEMS, 16, {}, run_seed=7))
    assert all(seed == sample_seed(7, dict(PROBLEMS)[k], i) for (k, i), seed in whole.items())
    assert len(set(whole.values())) == len(whole), "two samples share a seed"
    rng = random.Random(0)
    for _ in range(50):
        stored = {k: set(rng.sample(range(16), rng.randint(0, 16))) for k, _ in PROBLEMS}
        resumed = _pairs(plan_ranges(PROBLEMS, 16, stored, run_seed=7,
                                     max_request_n=rng.choice([None, 1, 3])))
        missing = {(k, i) for k, _ in PROBLEMS for i in range(16) if i not in stored[k]}
        assert set(resumed) == missing
        assert resumed == {pair: whole[pair] for pair in missing}


def test_another_run_seed_gives_other_seeds() -> None:
    a = _pairs(plan_ranges(PROBLEMS, 4, {}, run_seed=0))
    b = _pairs(plan_ranges(PROBLEMS, 4, {}, run_seed=1))
    assert set(a) == set(b) and not set(a.values()) & set(b.values())


@pytest.mark.parametrize("most", [1, 2, 3, 5, 100])
def test_splitting_respects_max_request_n_and_keeps_seeds(most: int) -> None:
    ranges = plan_ranges(PROBLEMS, 10, {12: {4}}, run_seed=0)
    split = split_ranges(ranges, most)
    assert all(1 <= r.n <= most for r in split)
    assert _pairs(split) == _pairs(ranges)
    # Within a problem the pieces stay in index order and never merge across a gap.
    assert [(r.start, r.n) for r in split if r.key == 12] == [
        (s, min(most, stop - s)) for a, stop in ((0, 4), (5, 10)) for s in range(a, stop, most)
    ]


def test_no_limit_leaves_ranges_whole() -> None:
    ranges = plan_ranges(PROBLEMS, 9, {}, run_seed=0)
    assert split_ranges(ranges, None) == ranges == split_ranges(ranges, 0)
    assert plan_ranges(PROBLEMS, 9, {}, run_seed=0, max_request_n=4) == split_ranges(ranges, 4)


def test_range_items_are_consecutive_seeds() -> None:
    assert SampleRange(5, 2, 3, 100).items() == [WorkItem(5, 2, 100), WorkItem(5, 3, 101),
                                                 WorkItem(5, 4, 102)]


def test_missing_indices_and_ranges() -> None:
    assert missing_indices(6, {1, 2, 9}) == [0, 3, 4, 5]
    assert missing_indices(3, range(3)) == []
    assert index_ranges([0, 1, 2, 5, 7, 8]) == [(0, 3), (5, 1), (7, 2)]
    assert index_ranges([4]) == [(4, 1)] and index_ranges([]) == []


def test_requests_carry_prompts_or_chat_turns_and_seeds() -> None:
    ranges = [SampleRange(11, 0, 2, 40), SampleRange(12, 3, 1, 90)]
    prompts = {11: "1+1?", 12: "2+2?"}
    raw = to_requests(ranges, prompts, load_template("plain"))
    assert [(r.key, r.start, r.n, r.seed, r.prompt, r.messages) for r in raw] == [
        (11, 0, 2, 40, "1+1?", None), (12, 3, 1, 90, "2+2?", None)]
    chat = to_requests(ranges, prompts, load_template("plain", chat=True))
    assert chat[1].prompt is None
    assert chat[1].messages == [{"role": "user", "content": "2+2?"}]


def test_changed_generation_parameters_are_refused() -> None:
    stored = {"temperature": 1.0, "top_p": 0.95, "n": 4}
    check_resumable(1, "finished", stored, {"temperature": 1.0, "top_p": 0.95, "n": 8})
    with pytest.raises(SamplingError, match=r"temperature: stored 1.0, asked 0.5"):
        check_resumable(1, "finished", stored, {"temperature": 0.5, "top_p": 0.95})
    with pytest.raises(SamplingError, match="imported samples"):
        check_resumable(2, "imported", {}, {})
