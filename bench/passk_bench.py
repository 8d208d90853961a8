"""Time pass@k curves for k = 1..1024 over 500 problems x 2 runs (target <= 50 ms).

Usage: python bench/passk_bench.py
"""

from __future__ import annotations

import time

import numpy as np
from reachscope.core import metrics


def main() -> None:
    rng = np.random.default_rng(0)
    n = np.full(500, 1024)
    runs = [rng.binomial(1024, rng.beta(0.5, 1.5, size=500)) for _ in range(2)]
    ks = list(range(1, 1025))
    best = float("inf")
    for _ in range(20):
        t0 = time.perf_counter()
        curves = [metrics.pass_at_k_curve(n, c, ks) for c in runs]
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    ma = metrics.pass_at_k_matrix(n, runs[0], ks)
    mb = metrics.pass_at_k_matrix(n, runs[1], ks)
    metrics.paired_bootstrap(ma, mb, ks, resamples=1000)
    boot = time.perf_counter() - t0
    print(f"pass@k curves, k=1..1024, 500 problems x 2 runs: {best * 1000:.1f} ms (best of 20)")
    print(f"  pass@1 = {curves[0][0]:.4f} / {curves[1][0]:.4f}; "
          f"pass@1024 = {curves[0][-1]:.4f} / {curves[1][-1]:.4f}")
    print(f"paired bootstrap, 1000 resamples x 1024 k: {boot * 1000:.0f} ms")


if __name__ == "__main__":
    main()
