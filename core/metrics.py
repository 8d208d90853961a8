"""pass@k, coverage, paired bootstrap, crossover and accuracy histograms.

Conventions (also in the README):

* pass@k of one problem with n samples of which c are correct is the unbiased estimator
  ``1 - C(n-c, k) / C(n, k)`` (Chen et al., 2021). It is computed as the running product
  ``prod_{i=0}^{k-1} (n-c-i)/(n-i)``, every factor in [0, 1], so nothing overflows at n = 1024 and
  the product reaches exactly 0 once ``k > n - c``.
* A run's curve is the mean over its problems. Problems may have different n. pass@k is only
  defined for ``k <= n``, so the curve at k averages over all problems only while
  ``k <= min n``; beyond that the value is NaN (no extrapolation). Problems with n = 0 are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def pass_at_k_matrix(n: Sequence[int] | NDArray, c: Sequence[int] | NDArray,
                     ks: Sequence[int] | NDArray) -> FloatArray:
    """Per-problem unbiased pass@k for every k in ``ks``.

    Args:
        n: samples per problem (shape [P]).
        c: correct samples per problem (shape [P]), ``0 <= c <= n``.
        ks: the k values (positive ints, any order).

    Returns:
        Array [P, len(ks)]; NaN where ``k > n`` for that problem.
    """
    n_arr = np.asarray(n, dtype=np.int64)
    c_arr = np.asarray(c, dtype=np.int64)
    k_arr = np.asarray(ks, dtype=np.int64)
    if n_arr.shape != c_arr.shape or n_arr.ndim != 1:
        raise ValueError("n and c must be 1-D arrays of the same length")
    if np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError("need 0 <= c <= n for every problem")
    if k_arr.size and k_arr.min() < 1:
        raise ValueError("k must be >= 1")
    out = np.full((n_arr.size, k_arr.size), np.nan)
    if n_arr.size == 0 or k_arr.size == 0:
        return out
    kmax = int(min(k_arr.max(), max(int(n_arr.max()), 1)))
    i = np.arange(kmax, dtype=np.float64)[None, :]  # 0 .. kmax-1
    nf = n_arr[:, None].astype(np.float64)
    wrong = (n_arr - c_arr)[:, None].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = np.clip((wrong - i) / (nf - i), 0.0, 1.0)
    # C(n-c, k)/C(n, k) for k = 1..kmax; once a factor is 0 the product stays 0.
    ratio = np.cumprod(factors, axis=1)
    in_range = k_arr <= kmax
    out[:, in_range] = 1.0 - ratio[:, k_arr[in_range] - 1]
    out[k_arr[None, :] > n_arr[:, None]] = np.nan
    return out


def pass_at_k_curve(n: Sequence[int] | NDArray, c: Sequence[int] | NDArray,
                    ks: Sequence[int] | NDArray) -> FloatArray:
    """Mean pass@k over problems with n > 0; NaN at any k larger than some problem's n."""
    n_arr = np.asarray(n, dtype=np.int64)
    keep = n_arr > 0
    m = pass_at_k_matrix(n_arr[keep], np.asarray(c, dtype=np.int64)[keep], ks)
    if m.shape[0] == 0:
        return np.full(len(ks), np.nan)
    # A NaN anywhere in a column means some problem has n < k: the mean is undefined there.
    return m.mean(axis=0)


def default_ks(n_max: int) -> list[int]:
    """Every k from 1 to n_max."""
    return list(range(1, max(n_max, 0) + 1))


def log2_ks(n_max: int) -> list[int]:
    """Powers of two up to n_max, plus n_max itself (the paper's plotting grid)."""
    ks = [1 << i for i in range(n_max.bit_length()) if (1 << i) <= n_max]
    if n_max >= 1 and ks[-1] != n_max:
        ks.append(n_max)
    return ks


@dataclass
class Coverage:
    """Which problems each of two runs solves (a problem counts as solved with >= 1 correct)."""

    both: list[int]
    only_a: list[int]
    only_b: list[int]
    neither: list[int]
    k: int | None = None  # None: full budget

    def as_counts(self) -> dict[str, int]:
        return {"both": len(self.both), "only_a": len(self.only_a),
                "only_b": len(self.only_b), "neither": len(self.neither)}


def coverage(problems: Sequence[int], solved_a: set[int], solved_b: set[int],
             k: int | None = None) -> Coverage:
    """Split ``problems`` by which run solves them."""
    cov = Coverage([], [], [], [], k)
    for p in problems:
        a, b = p in solved_a, p in solved_b
        (cov.both if a and b else cov.only_a if a else cov.only_b if b else cov.neither).append(p)
    return cov


@dataclass
class BootstrapResult:
    """Paired bootstrap over problems of pass@k(B) - pass@k(A)."""

    ks: list[int]
    diff: FloatArray  # point estimate per k
    low: FloatArray
    high: FloatArray
    level: float
    resamples: int


@lru_cache(maxsize=8)
def resample_counts(p: int, resamples: int, seed: int) -> NDArray[np.int64]:
    """How often each of ``p`` problems is drawn in each bootstrap replicate: ``[resamples, p]``.

    A multinomial draw from ``np.random.default_rng(seed)``; every bootstrap of a report draws
    the same replicates for the same seed, so they are drawn once (read-only, cached).
    """
    counts = np.random.default_rng(seed).multinomial(p, np.full(p, 1.0 / p), size=resamples)
    counts.flags.writeable = False
    return counts


def paired_bootstrap(
    matrix_a: FloatArray, matrix_b: FloatArray, ks: Sequence[int], resamples: int = 1000,
    level: float = 0.95, seed: int = 0,
) -> BootstrapResult:
    """Percentile bootstrap of the mean pass@k difference (B - A), resampling problems in pairs.

    Args:
        matrix_a, matrix_b: per-problem pass@k [P, K] of the two runs on the same P problems,
            in the same problem order.
        ks: the k of each column.
        resamples: bootstrap replicates.
        level: two-sided confidence level.
        seed: RNG seed (results are reproducible).
    """
    if matrix_a.shape != matrix_b.shape:
        raise ValueError("paired bootstrap needs both runs on the same problems and k grid")
    diff = matrix_b - matrix_a
    p = diff.shape[0]
    # Multinomial weights instead of index resampling: one [R, P] @ [P, K] product, never an
    # [R, P, K] array.
    weights = resample_counts(p, resamples, seed).astype(np.float64) / p
    reps = weights @ np.nan_to_num(diff, nan=0.0)
    reps[:, np.isnan(diff).any(axis=0)] = np.nan
    alpha = (1.0 - level) / 2.0
    with np.errstate(invalid="ignore"):
        low, high = np.quantile(reps, [alpha, 1.0 - alpha], axis=0)  # one partition for both
    return BootstrapResult(list(ks), diff.mean(axis=0), low, high, level, resamples)


def crossover_k(
    ks: Sequence[int], curve_a: Sequence[float], curve_b: Sequence[float]
) -> int | None:
    """The first k at which the sign of ``curve_b - curve_a`` differs from its sign at the first k.

    In the paper's setting (A = base, B = RL), B leads at k = 1 and this is the k where the base
    curve catches up (equal) or overtakes. Returns None if the curves never meet on the grid, or
    if they start level.
    """
    diffs = [b - a for a, b in zip(curve_a, curve_b)]
    start = None
    for k, d in zip(ks, diffs):
        if np.isnan(d):
            continue
        s = int(np.sign(d))
        if start is None:
            if s == 0:
                return None
            start = s
            continue
        if s != start:
            return int(k)
    return None


#: Bin edges of the accuracy histogram: exactly 0, ten deciles of (0, 1), exactly 1.
HISTOGRAM_LABELS = ["0"] + [f"({i/10:.1f},{(i+1)/10:.1f}]" for i in range(9)] + ["(0.9,1)", "1"]


def accuracy_histogram(n: Sequence[int] | NDArray, c: Sequence[int] | NDArray) -> list[int]:
    """Problems per accuracy bin (c/n): exactly 0, (0,.1], ..., (.8,.9], (.9,1), exactly 1."""
    n_arr = np.asarray(n, dtype=np.int64)
    c_arr = np.asarray(c, dtype=np.int64)
    keep = n_arr > 0
    bins = [0] * len(HISTOGRAM_LABELS)
    for nn, cc in zip(n_arr[keep].tolist(), c_arr[keep].tolist()):
        if cc == 0:
            bins[0] += 1
        elif cc == nn:
            bins[-1] += 1
        else:
            # ceil(10 c / n) in integers, so 3/10 lands in (0.2,0.3], not in the next bin.
            bins[min((10 * cc + nn - 1) // nn, 10)] += 1
    return bins
