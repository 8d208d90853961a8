"""pass@k against exact rational arithmetic; coverage, bootstrap, crossover on hand-made cases."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reachscope.core import metrics


def exact_pass_at_k(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


@st.composite
def nck(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(st.one_of(st.integers(1, 64), st.just(1024), st.integers(900, 1024)))
    c = draw(st.integers(0, n))
    k = draw(st.integers(1, n))
    return n, c, k


@settings(max_examples=300, deadline=None)
@given(nck())
def test_pass_at_k_matches_exact_fractions(case: tuple[int, int, int]) -> None:
    n, c, k = case
    got = metrics.pass_at_k_matrix([n], [c], [k])[0, 0]
    want = float(exact_pass_at_k(n, c, k))
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 40)), min_size=1, max_size=20))
def test_vectorised_curve_is_mean_of_exact(pairs: list[tuple[int, int]]) -> None:
    n = [a for a, _ in pairs]
    c = [min(b, a) for a, b in pairs]
    ks = list(range(1, min(n) + 1))
    curve = metrics.pass_at_k_curve(n, c, ks)
    for j, k in enumerate(ks):
        want = sum(exact_pass_at_k(nn, cc, k) for nn, cc in zip(n, c)) / len(n)
        assert curve[j] == pytest.approx(float(want), rel=1e-9, abs=1e-12)


def test_n1024_extremes() -> None:
    m = metrics.pass_at_k_matrix([1024, 1024, 1024], [0, 1, 1024], [1, 512, 1024])
    assert m[0].tolist() == [0.0, 0.0, 0.0]
    assert m[1, 0] == pytest.approx(1 / 1024)
    assert m[1, 1] == pytest.approx(0.5)
    assert m[1, 2] == 1.0
    assert m[2].tolist() == [1.0, 1.0, 1.0]


def test_k_larger_than_n_is_nan_and_curve_undefined_there() -> None:
    m = metrics.pass_at_k_matrix([4, 8], [1, 1], [4, 8])
    assert not np.isnan(m[0, 0]) and np.isnan(m[0, 1])
    curve = metrics.pass_at_k_curve([4, 8], [1, 1], [1, 4, 8])
    assert not np.isnan(curve[1]) and np.isnan(curve[2])


def test_problems_without_samples_are_left_out() -> None:
    curve = metrics.pass_at_k_curve([0, 4], [0, 2], [1])
    assert curve[0] == pytest.approx(0.5)


def test_invalid_counts_rejected() -> None:
    with pytest.raises(ValueError):
        metrics.pass_at_k_matrix([4], [5], [1])
    with pytest.raises(ValueError):
        metrics.pass_at_k_matrix([4], [1], [0])


def test_coverage_partition() -> None:
    cov = metrics.coverage([1, 2, 3, 4, 5], {1, 2, 5}, {2, 3})
    assert (cov.both, cov.only_a, cov.only_b, cov.neither) == ([2], [1, 5], [3], [4])
    assert cov.as_counts() == {"both": 1, "only_a": 2, "only_b": 1, "neither": 1}


def test_crossover() -> None:
    ks = [1, 2, 4, 8, 16]
    base = [0.2, 0.4, 0.6, 0.8, 0.9]
    rl = [0.5, 0.6, 0.65, 0.7, 0.72]
    assert metrics.crossover_k(ks, base, rl) == 8
    assert metrics.crossover_k(ks, base, [x + 0.01 for x in base]) is None
    assert metrics.crossover_k([1, 2, 4], [0.2, 0.4, 0.5], [0.3, 0.4, 0.45]) == 2


def test_bootstrap_interval_covers_a_known_shift_and_is_reproducible() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, size=(200, 3))
    b = a + 0.1
    r1 = metrics.paired_bootstrap(a, b, [1, 2, 4], resamples=500, seed=3)
    r2 = metrics.paired_bootstrap(a, b, [1, 2, 4], resamples=500, seed=3)
    assert np.allclose(r1.diff, 0.1)
    # Every problem moves by exactly 0.1: the interval collapses onto it.
    assert np.allclose(r1.low, 0.1) and np.allclose(r1.high, 0.1)
    assert np.array_equal(r1.low, r2.low)
    noisy = metrics.paired_bootstrap(a, a + rng.normal(0.05, 0.2, size=a.shape), [1, 2, 4],
                                     resamples=500, seed=0)
    assert np.all(noisy.low < noisy.diff) and np.all(noisy.diff < noisy.high)


def test_accuracy_histogram_bins_exactly() -> None:
    h = metrics.accuracy_histogram([10, 10, 10, 10, 10, 20], [0, 3, 10, 9, 1, 19])
    labels = dict(zip(metrics.HISTOGRAM_LABELS, h))
    assert labels["0"] == 1 and labels["1"] == 1
    assert labels["(0.2,0.3]"] == 1  # 3/10 exactly on the edge
    assert labels["(0.8,0.9]"] == 1 and labels["(0.0,0.1]"] == 1 and labels["(0.9,1)"] == 1
    assert sum(h) == 6


def test_log2_ks() -> None:
    assert metrics.log2_ks(8) == [1, 2, 4, 8]
    assert metrics.log2_ks(100) == [1, 2, 4, 8, 16, 32, 64, 100]
