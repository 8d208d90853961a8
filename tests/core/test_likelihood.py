"""The pure likelihood analyses on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest
from reachscope.core.likelihood import (
    ScoredRun,
    evidence,
    per_problem_medians,
    quartiles,
    share_below,
)


def _run(log_ppl: list[float], problem: list[int], correct: list[int]) -> ScoredRun:
    return ScoredRun(np.asarray(log_ppl), np.asarray(problem), np.asarray(correct),
                     np.full(len(log_ppl), 0.1))


def test_quartiles_medians_and_shares() -> None:
    q = quartiles(np.arange(5.0))
    assert (q.n, q.q1, q.median, q.q3) == (5, 1.0, 2.0, 3.0)
    assert quartiles(np.zeros(0)).as_dict()["median"] is None
    assert list(per_problem_medians(_run([1, 3, 10], [2, 2, 1], [0, 0, 0]))) == [10.0, 2.0]
    assert share_below(np.asarray([1.0, 2.0, 2.0, 3.0]), 2.0) == 0.5  # ties count half
    assert share_below(np.zeros(0), 1.0) is None


def test_placement_of_other_runs_samples() -> None:
    base = _run([1, 2, 3, 4, 5, 6], [1, 1, 1, 2, 2, 2], [1, 0, 0, 1, 0, 0])
    rl = _run([1, 1, 2, 9], [1, 1, 1, 2], [1, 1, 1, 0])  # problem 2: only the base solves it
    data = evidence({("base", "base"): base, ("base", "rl"): rl}, {"base": "base"})
    assert len(data["matrix"]) == 2 and data["matrix"][0]["mean_entropy"] == pytest.approx(0.1)
    (p,) = data["placements"]
    assert p["own_median_log_ppl"] == 3.5
    assert p["share_below"]["all"] == 0.75
    assert p["share_below"]["correct"] == 1.0 and p["share_below"]["incorrect"] == 0.0
    assert p["only_own_solves_problems"] == 1
    assert p["share_below"]["only_own_solves"] == 0.0  # 9 above the base's median 5 there
    assert p["own_share_below"]["all"] == 0.5
