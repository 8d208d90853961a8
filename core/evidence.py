"""Count-level evidence for base-vs-RL comparisons (issue 11): the pure formulas.

Functions over plain ints, arrays or rows, testable without a database; the store supplies the
counts and `tui/` or `core/commands/` render the results. Answer clusters and majority vote are
in core/answers.py. Sources:

* Yue et al., 2025, "Does Reinforcement Learning Really Incentivize Reasoning Capacity in LLMs
  Beyond the Base Model?" (arXiv:2504.13837): pass@k curves, accuracy histograms, the sampling
  efficiency gap (section 4.3).
* Liu et al., 2024, "Are Your LLMs Capable of Stable Reasoning?" (arXiv:2412.13147): G-Pass@k and
  mG-Pass@k, as implemented in OpenCompass (``opencompass/openicl/icl_evaluator/
  icl_base_evaluator.py``: ``compute_g_pass_at_k``, ``compute_mg_pass_at_k``).
* Yao et al., 2024, "tau-bench" (arXiv:2406.12045): pass^k, all k attempts succeed.
* Wu et al., 2025, "The Invisible Leash: Why RLVR May Not Escape Its Origin" (arXiv:2507.14843):
  support preservation, expansion and shrinkage (SRR, NDR, SDS, NSCR).

Per-problem curves follow core/metrics.py: an ``[P, len(ks)]`` matrix with NaN where ``k > n``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from .metrics import (
    HISTOGRAM_LABELS,
    FloatArray,
    accuracy_histogram,
    coverage,
    paired_bootstrap,
    pass_at_k_curve,
    resample_counts,
)

IntArray = NDArray[np.int64]


# --- pass^k, G-Pass@k, mG-Pass@k ---------------------------------------------------------------


def g_pass_at_k_matrix(n: Sequence[int] | NDArray, c: Sequence[int] | NDArray,
                       ks: Sequence[int] | NDArray, tau: float | Fraction) -> FloatArray:
    """Per-problem G-Pass@k_tau (Liu et al., 2024): P(at least ceil(tau k) of k draws are correct).

    G-Pass@k_tau = sum_{j >= m} C(c, j) C(n-c, k-j) / C(n, k) with m = max(ceil(tau k), 1), the
    hypergeometric tail of k draws without replacement from n samples of which c are correct.
    The max(., 1) is OpenCompass's: tau = 0 gives pass@k. ``tau`` is read as the decimal it prints
    as (0.7 is 7/10), so ceil(tau k) is exact; for the usual thresholds and k <= 1024 this equals
    OpenCompass's float ``np.ceil(k * tau)``.

    Summed term by term in log space (never 1 - x), so values near 0 keep their relative
    precision at n = 1024. Cost: per n and k, one [distinct c, min(c, k) + 1] array, so a grid
    of every k up to 1024 takes about a second per run; a log2 grid a fraction of that.

    Args:
        n, c: samples and correct samples per problem ([P]).
        ks: k values (>= 1).
        tau: threshold in [0, 1].

    Returns:
        ``[P, len(ks)]``, NaN where ``k > n``.
    """
    return _hypergeometric_sums(n, c, ks, [_at_least(ks, tau)])[0]


def _at_least(ks: Sequence[int] | NDArray,
              tau: float | Fraction) -> Callable[[IntArray, IntArray], FloatArray]:
    """The G-Pass@k_tau weight: 1 where j >= max(ceil(tau k), 1) (thresholds computed once)."""
    t = tau if isinstance(tau, Fraction) else Fraction(str(tau))
    if not 0 <= t <= 1:
        raise ValueError("tau must be in [0, 1]")
    need = {int(kk): max(math.ceil(t * int(kk)), 1) for kk in np.asarray(ks).tolist()}

    def at_least(k: IntArray, j: IntArray) -> FloatArray:
        m = np.array([need[kk] for kk in k[:, 0].tolist()])[:, None]
        return (j >= m).astype(np.float64)

    return at_least


@dataclass
class StabilityMatrices:
    """pass^k, mG-Pass@k and G-Pass@k_tau per problem ``[P, len(ks)]`` (see
    `stability_matrices`)."""

    pass_pow_k: FloatArray
    mg_pass_at_k: FloatArray
    g_pass_at_k: dict[float, FloatArray]


def stability_matrices(n: Sequence[int] | NDArray, c: Sequence[int] | NDArray,
                       ks: Sequence[int] | NDArray,
                       taus: Sequence[float]) -> StabilityMatrices:
    """`pass_pow_k_matrix`, `mg_pass_at_k_matrix` and `g_pass_at_k_matrix` for each tau at
    once: the same values, from one hypergeometric pmf per distinct (n, c) instead of one per
    metric."""
    weights = [_at_least(ks, 1), _above_half, *(_at_least(ks, t) for t in taus)]
    pow_k, mg, *g = _hypergeometric_sums(n, c, ks, weights)
    return StabilityMatrices(pow_k, mg, dict(zip(taus, g)))


def pass_pow_k_matrix(n: Sequence[int] | NDArray, c: Sequence[int] | NDArray,
                      ks: Sequence[int] | NDArray) -> FloatArray:
    """Per-problem pass^k = C(c, k) / C(n, k): all k draws correct (Yao et al., 2024).

    This is G-Pass@k at tau = 1 (Liu et al., 2024), and is 0 for k > c. NaN where ``k > n``.
    """
    return g_pass_at_k_matrix(n, c, ks, 1)


def mg_pass_at_k_matrix(n: Sequence[int] | NDArray, c: Sequence[int] | NDArray,
                        ks: Sequence[int] | NDArray) -> FloatArray:
    """Per-problem mG-Pass@k (Liu et al., 2024), exactly as OpenCompass computes it.

    mG-Pass@k = (2/k) sum_{i = ceil(k/2)+1}^{k} G-Pass@k_{i/k}, the area under G-Pass@k_tau over
    tau in (0.5, 1] on the grid i/k (OpenCompass ``compute_mg_pass_at_k``). With X the correct
    draws this is (2/k) E[max(X - ceil(k/2), 0)], which is how it is summed. Consequences of the
    definition: mG-Pass@1 = 0, and with c = n it is 1 for even k but (k-1)/k for odd k.

    Returns:
        ``[P, len(ks)]``, NaN where ``k > n``.
    """
    return _hypergeometric_sums(n, c, ks, [_above_half])[0]


def _above_half(k: IntArray, j: IntArray) -> FloatArray:
    """The mG-Pass@k weight: (2/k) max(j - ceil(k/2), 0)."""
    half = (k + 1) // 2
    return 2.0 * np.maximum(j - half, 0) / k


def _hypergeometric_sums(n: Sequence[int] | NDArray, c: Sequence[int] | NDArray,
                         ks: Sequence[int] | NDArray,
                         weights: Sequence[Callable[[IntArray, IntArray], FloatArray]],
                         ) -> list[FloatArray]:
    """sum_j weight(k, j) P(X = j), X ~ Hypergeometric(n, c, k), per problem and k, for each
    weight (one pmf per distinct (n, c) serves them all)."""
    n_arr = np.asarray(n, dtype=np.int64)
    c_arr = np.asarray(c, dtype=np.int64)
    k_arr = np.asarray(ks, dtype=np.int64)
    if n_arr.shape != c_arr.shape or n_arr.ndim != 1:
        raise ValueError("n and c must be 1-D arrays of the same length")
    if np.any(c_arr < 0) or np.any(c_arr > n_arr) or (k_arr.size and k_arr.min() < 1):
        raise ValueError("need 0 <= c <= n for every problem and k >= 1")
    outs = [np.full((n_arr.size, k_arr.size), math.nan) for _ in weights]
    for nn in np.unique(n_arr).tolist():
        rows = np.flatnonzero(n_arr == nn)
        cs, inverse = np.unique(c_arr[rows], return_inverse=True)
        # One k at a time over every distinct c of this n: j only runs to min(k, max c).
        for col in np.flatnonzero(k_arr <= nn).tolist():
            k = k_arr[col:col + 1][:, None]
            j = np.arange(min(int(cs.max()), int(k_arr[col])) + 1)[None, :]
            pmf = _hypergeometric_pmf(nn, cs, int(k_arr[col]), j[0])
            for out, weight in zip(outs, weights):
                out[rows, col] = (weight(k, j) * pmf).sum(axis=1)[inverse]
    return outs


def _hypergeometric_pmf(n: int, c: IntArray, k: int, j: IntArray) -> FloatArray:
    """C(c, j) C(n-c, k-j) / C(n, k) for each c [C] and j [J]: ``[C, J]``, 0 where impossible
    (j > c among them)."""
    lf = log_factorials(n)
    cc = c[:, None]
    wrong = n - cc
    jj = np.minimum(j[None, :], cc)
    kj = k - jj
    ok = (j[None, :] <= cc) & (kj >= 0) & (kj <= wrong)
    kj = np.clip(kj, 0, wrong)  # in range for the lookups; the impossible terms are set to 0
    log = (lf[cc] - lf[jj] - lf[cc - jj]) + (lf[wrong] - lf[kj] - lf[wrong - kj]) \
        - (lf[n] - lf[k] - lf[n - k])
    log[~ok] = -np.inf
    return np.exp(log)


# --- support dynamics and the detection floor ---------------------------------------------------


@dataclass(frozen=True)
class SupportDynamics:
    """How RL changed which problems are solved at a budget (Wu et al., 2025).

    Attributes:
        preserved: P, solved by both. expanded: E, by RL only. shrunk: S, by the base only.
        out: O, by neither. k: the budget the solved flags refer to (None: each run's full n).
    """

    preserved: int
    expanded: int
    shrunk: int
    out: int
    k: int | None = None

    @property
    def srr(self) -> float | None:
        """Support retention rate P / (P + S); None when P + S = 0 (the base solves nothing)."""
        return _ratio(self.preserved, self.preserved + self.shrunk)

    @property
    def ndr(self) -> float | None:
        """Net discovery rate E / (P + E); None when P + E = 0 (RL solves nothing)."""
        return _ratio(self.expanded, self.preserved + self.expanded)

    @property
    def sds(self) -> float | None:
        """Support dynamic score, the harmonic mean 2 SRR NDR / (SRR + NDR); None if either is.

        SRR + NDR > 0 whenever both are defined (SRR = 0 needs P = 0, which makes NDR = 1).
        """
        srr, ndr = self.srr, self.ndr
        if srr is None or ndr is None:
            return None
        return 2 * srr * ndr / (srr + ndr)

    @property
    def nscr(self) -> float | None:
        """Net support change rate (E - S) / (P + E + S); None when P + E + S = 0."""
        return _ratio(self.expanded - self.shrunk, self.preserved + self.expanded + self.shrunk)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def support_dynamics(solved_base: Sequence[bool] | NDArray, solved_rl: Sequence[bool] | NDArray,
                     k: int | None = None) -> SupportDynamics:
    """Count P, E, S, O from per-problem solved flags (aligned) at one budget k.

    "Solved at k" is coverage at k: at least one correct sample among the first k (metrics
    `coverage`, store ``solved_within``).
    """
    if len(solved_base) != len(solved_rl):
        raise ValueError("solved_base and solved_rl must be aligned")
    ids = list(range(len(solved_base)))
    cov = coverage(ids, {i for i in ids if solved_base[i]}, {i for i in ids if solved_rl[i]}, k)
    return SupportDynamics(len(cov.both), len(cov.only_b), len(cov.only_a), len(cov.neither), k)


def detection_floor(n: int, confidence: float = 0.95) -> float:
    """The largest per-sample success rate consistent, at ``confidence``, with 0 correct in n.

    (1 - p)^n = 1 - confidence gives p = 1 - (1 - confidence)^(1/n), computed with expm1 so it
    stays accurate for large n. 1.0 for n = 0 (no samples rule nothing out).
    """
    if n < 0 or not 0 < confidence < 1:
        raise ValueError("need n >= 0 and 0 < confidence < 1")
    return 1.0 if n == 0 else -math.expm1(math.log1p(-confidence) / n)


def detection_floor_approx(n: int, confidence: float = 0.95) -> float:
    """The large-n approximation ln(1 / (1 - confidence)) / n: ln(20)/n ~ 3/n at 95%.

    Always above `detection_floor` (the "rule of three"); inf for n = 0.
    """
    if n < 0 or not 0 < confidence < 1:
        raise ValueError("need n >= 0 and 0 < confidence < 1")
    return math.inf if n == 0 else -math.log1p(-confidence) / n


# --- sampling efficiency gap and accuracy transitions -----------------------------------------


@dataclass(frozen=True)
class EfficiencyGap:
    """The sampling efficiency gap at budget k (Yue et al., 2025, section 4.3)."""

    k: int
    base_pass_at_k: float
    rl_pass_at_1: float

    @property
    def gap(self) -> float:
        """dSE = pass@k(base) - pass@1(RL): what RL leaves on the table at this budget."""
        return self.base_pass_at_k - self.rl_pass_at_1


def sampling_efficiency_gap(base_n: Sequence[int] | NDArray, base_c: Sequence[int] | NDArray,
                            rl_n: Sequence[int] | NDArray, rl_c: Sequence[int] | NDArray,
                            k: int | None = None) -> EfficiencyGap:
    """dSE over problems, each run's value the mean of per-problem unbiased pass@k (metrics).

    Args:
        base_n, base_c, rl_n, rl_c: per-problem counts of the two runs, aligned on the same
            problems. Problems with n = 0 in either run are left out of both.
        k: the base budget; default the largest both runs have on every kept problem, the
            smallest n of either run. A larger k gives a NaN pass@k (metrics' rule).
    """
    arrays = [np.asarray(a, dtype=np.int64) for a in (base_n, base_c, rl_n, rl_c)]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError("both runs' counts must be aligned on the same problems")
    keep = (arrays[0] > 0) & (arrays[2] > 0)
    bn, bc, rn, rc = (a[keep] for a in arrays)
    if not keep.any():
        raise ValueError("no problem has samples in both runs")
    budget = int(min(bn.min(), rn.min())) if k is None else k
    return EfficiencyGap(budget, float(pass_at_k_curve(bn, bc, [budget])[0]),
                         float(pass_at_k_curve(rn, rc, [1])[0]))


def accuracy_bin(n: int, c: int) -> int:
    """The index of c/n in metrics' 12-bin accuracy histogram (``HISTOGRAM_LABELS``).

    Bins: exactly 0, (0, .1], ..., (.8, .9], (.9, 1), exactly 1. Read off
    metrics.accuracy_histogram itself, so the two can never disagree.
    """
    if not 0 <= c <= n or n < 1:
        raise ValueError("need n >= 1 and 0 <= c <= n")
    return accuracy_histogram([n], [c]).index(1)


@dataclass(frozen=True)
class AccuracyTransitions:
    """Base -> RL moves between accuracy bins: ``cells[i][j]`` are the problems in base bin i and
    RL bin j (bins as ``labels``, metrics' histogram bins)."""

    labels: list[str]
    cells: list[list[list[int]]]

    def counts(self) -> list[list[int]]:
        """Problems per cell."""
        return [[len(cell) for cell in row] for row in self.cells]


def accuracy_transitions(problem_ids: Sequence[int], base_n: Sequence[int],
                         base_c: Sequence[int], rl_n: Sequence[int],
                         rl_c: Sequence[int]) -> AccuracyTransitions:
    """The 12 x 12 transition matrix of per-problem accuracy c/n from base to RL.

    Inputs are aligned per problem; problems with n = 0 in either run are left out.
    """
    if not len(problem_ids) == len(base_n) == len(base_c) == len(rl_n) == len(rl_c):
        raise ValueError("all inputs must be aligned on the same problems")
    size = len(HISTOGRAM_LABELS)
    cells: list[list[list[int]]] = [[[] for _ in range(size)] for _ in range(size)]
    for p, bn, bc, rn, rc in zip(problem_ids, base_n, base_c, rl_n, rl_c):
        if bn > 0 and rn > 0:
            cells[accuracy_bin(bn, bc)][accuracy_bin(rn, rc)].append(p)
    return AccuracyTransitions(list(HISTOGRAM_LABELS), cells)


# --- truncation -------------------------------------------------------------------------------

#: finish_reason values meaning "stopped at max_tokens" (vLLM, OpenAI-compatible, HF backends).
LENGTH_REASONS = frozenset({"length"})


@dataclass(frozen=True)
class TruncationCounts:
    """Sample counts behind a run's truncation shares (a store aggregate can fill these).

    Attributes:
        samples: all samples. truncated: those whose finish_reason is in ``LENGTH_REASONS``.
        incorrect: samples graded incorrect (ungraded ones are not). no_answer: samples with no
            extracted answer. ``*_truncated``: those of each that were truncated. A no-answer
            sample graded incorrect counts in both.
    """

    samples: int
    truncated: int
    incorrect: int
    incorrect_truncated: int
    no_answer: int
    no_answer_truncated: int

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str | None, bool | None, bool]]) -> TruncationCounts:
        """Count rows of (finish_reason, verdict or None if ungraded, has_answer)."""
        tally = [0] * 6
        for finish, verdict, has_answer in rows:
            cut = finish in LENGTH_REASONS
            flags = (True, cut, verdict is False, verdict is False and cut, not has_answer,
                     not has_answer and cut)
            tally = [t + f for t, f in zip(tally, flags)]
        return cls(*tally)

    @property
    def truncated_share(self) -> float:
        """Share of samples that stopped for length (NaN with no samples)."""
        return _share(self.truncated, self.samples)

    @property
    def incorrect_truncated_share(self) -> float:
        """Share of incorrect samples that were truncated (NaN with none incorrect)."""
        return _share(self.incorrect_truncated, self.incorrect)

    @property
    def no_answer_truncated_share(self) -> float:
        """Share of no-answer samples that were truncated (NaN with none)."""
        return _share(self.no_answer_truncated, self.no_answer)


def _share(num: int, den: int) -> float:
    return num / den if den else math.nan


# --- budget parity ------------------------------------------------------------------------------

#: Stored run parameters that change what a sample costs or means, in the order reported. The
#: seed is left out: different seeds are the point of independent samples.
PARITY_KEYS = ("n", "max_tokens", "temperature", "top_p", "top_k", "chat_template")


def budget_differences(base: Mapping[str, Any], rl: Mapping[str, Any],
                       names: tuple[str, str] = ("base", "RL")) -> list[str]:
    """Differences between two runs' stored parameters, as sentences.

    Compares ``PARITY_KEYS`` and the prompt template (its text when both runs stored one, else
    its name). Example: "RL sampled with max_tokens 3072, base with 1024".

    Args:
        base, rl: the runs' ``params`` dicts.
        names: how to call the two runs, in the same order.
    """
    a, b = names
    out = []
    for key in PARITY_KEYS:
        if key not in base and key not in rl:
            continue
        va, vb = base.get(key), rl.get(key)
        if key not in base or key not in rl:
            has, value, lacks = (b, vb, a) if key in rl else (a, va, b)
            out.append(f"{has} sampled with {key} {_show(value)}; {lacks} has no {key} recorded")
        elif va != vb:
            out.append(f"{b} sampled with {key} {_show(vb)}, {a} with {_show(va)}")
    out.extend(_template_difference(base, rl, names))
    return out


def _template_difference(base: Mapping[str, Any], rl: Mapping[str, Any],
                         names: tuple[str, str]) -> list[str]:
    a, b = names
    ta, tb = base.get("template"), rl.get("template")
    texts = base.get("template_text"), rl.get("template_text")
    if None not in texts:
        if texts[0] == texts[1]:
            return []
        if ta == tb:
            return [f"{b} and {a} used different text for prompt template {_show(ta)}"]
    if ta != tb:
        return [f"{b} used prompt template {_show(tb)}, {a} {_show(ta)}"]
    return []


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


# --- checkpoint order -----------------------------------------------------------------------

#: A training step in a label or model name: ``step50``, ``global_step_200``, ``ckpt-400``,
#: ``checkpoint-1000`` (any case; ``_`` or ``-`` or nothing before the digits; not inside a
#: longer word, so ``mystep5`` does not count). The last match in a name wins.
STEP_PATTERN = re.compile(r"(?<![a-z])(?:global[_-]?step|step|ckpt|checkpoint)[_-]?(\d+)(?!\d)",
                          re.IGNORECASE)


class Checkpoint(Protocol):
    """What `order_checkpoints` reads of a run (store.Run has these)."""

    @property
    def label(self) -> str: ...
    @property
    def model(self) -> str | None: ...
    @property
    def created_at(self) -> str: ...


C = TypeVar("C", bound=Checkpoint)


def checkpoint_step(name: str | None) -> int | None:
    """The training step in ``name`` by ``STEP_PATTERN`` (the last match), or None."""
    matches = STEP_PATTERN.findall(name or "")
    return int(matches[-1]) if matches else None


def order_checkpoints(runs: Sequence[C], explicit: Sequence[str] | None = None) -> list[C]:
    """Order runs along a training trajectory.

    Runs whose label is in ``explicit`` come first, in that order; then runs with a step in
    their label (else in their model name), by step; then the rest. Ties, and the rest, go by
    creation time (ISO strings), then label.

    Raises:
        ValueError: if ``explicit`` names a label no run has.
    """
    rank = {label: i for i, label in enumerate(explicit or [])}
    unknown = set(rank) - {r.label for r in runs}
    if unknown:
        raise ValueError(f"no run is labelled {', '.join(sorted(unknown))}")

    def key(run: C) -> tuple[int, int, str, str]:
        if run.label in rank:
            return (0, rank[run.label], run.created_at, run.label)
        step = checkpoint_step(run.label)
        step = checkpoint_step(run.model) if step is None else step
        return (1, step, run.created_at, run.label) if step is not None else (
            2, 0, run.created_at, run.label)

    return sorted(runs, key=key)


# --- paired bootstrap -------------------------------------------------------------------------


@dataclass(frozen=True)
class StatisticInterval:
    """A percentile bootstrap interval of one statistic comparing two runs."""

    estimate: float
    low: float
    high: float
    level: float
    resamples: int
    undefined: int = 0  # replicates where the statistic was None or NaN (left out)


def paired_bootstrap_mean(a: Sequence[float] | NDArray, b: Sequence[float] | NDArray,
                          resamples: int = 1000, level: float = 0.95,
                          seed: int = 0) -> StatisticInterval:
    """mean(b) - mean(a) of a per-problem metric, with metrics.paired_bootstrap's interval."""
    ma = np.asarray(a, dtype=np.float64)[:, None]
    mb = np.asarray(b, dtype=np.float64)[:, None]
    if ma.shape != mb.shape or ma.shape[0] == 0:
        raise ValueError("need two aligned, non-empty per-problem arrays")
    res = paired_bootstrap(ma, mb, [0], resamples=resamples, level=level, seed=seed)
    return StatisticInterval(float(res.diff[0]), float(res.low[0]), float(res.high[0]), level,
                             resamples)


def paired_bootstrap_statistic(
    a: Sequence[Any] | NDArray, b: Sequence[Any] | NDArray,
    statistic: Callable[[NDArray, NDArray], float | None], resamples: int = 1000,
    level: float = 0.95, seed: int = 0,
) -> StatisticInterval:
    """Percentile bootstrap of any statistic of two runs' per-problem values, problems in pairs.

    Each replicate draws P problems with replacement and applies ``statistic`` to both runs'
    values on them (e.g. ``lambda a, b: support_dynamics(a, b).srr``). The draws are the ones
    metrics.paired_bootstrap makes for the same seed, so for a mean difference the two agree.

    Args:
        a, b: per-problem values of the two runs on the same problems, same order.
        statistic: called as ``statistic(a_sample, b_sample)``; None or NaN marks a replicate
            where it is undefined, which is left out and counted in ``undefined``.
        resamples, level, seed: as metrics.paired_bootstrap; the same seed gives the same result.
    """
    va, vb = np.asarray(a), np.asarray(b)
    p = va.shape[0]
    if va.shape[:1] != vb.shape[:1] or p == 0:
        raise ValueError("need two aligned, non-empty per-problem arrays")
    counts = resample_counts(p, resamples, seed)
    values = [_defined(statistic(va[idx], vb[idx]))
              for idx in (np.repeat(np.arange(p), row) for row in counts)]
    return _percentile_interval(_defined(statistic(va, vb)), values, level)


def paired_bootstrap_sums(
    columns: Sequence[Any] | NDArray, statistic: Callable[[tuple[int, ...]], float | None],
    resamples: int = 1000, level: float = 0.95, seed: int = 0,
) -> StatisticInterval:
    """`paired_bootstrap_statistic` for a statistic of per-problem integer column sums.

    Where the statistic only needs sums over problems of a few integer (or boolean) columns
    (support dynamics: counts of solved-by-both, by one, by neither), a replicate's sums are
    its row of problem counts times ``columns``: one matrix product instead of a resampled copy
    of the arrays per replicate. The replicates and so the interval are the same as
    `paired_bootstrap_statistic` with the same seed and the equivalent statistic.

    Args:
        columns: ``[P, m]`` integer values per problem (the pair's values, combined as needed).
        statistic: called with the m column sums (ints) of a replicate, and of the sample.
        resamples, level, seed: as metrics.paired_bootstrap.
    """
    cols = np.asarray(columns).astype(np.int64)
    p = cols.shape[0] if cols.ndim == 2 else 0
    if p == 0:
        raise ValueError("need a non-empty [P, m] array of per-problem columns")
    sums = resample_counts(p, resamples, seed) @ cols
    memo: dict[tuple[int, ...], float] = {}
    values = []
    for row in map(tuple, sums.tolist()):
        value = memo.get(row)
        if value is None:
            value = memo[row] = _defined(statistic(row))
        values.append(value)
    whole = tuple(int(x) for x in cols.sum(axis=0))
    return _percentile_interval(_defined(statistic(whole)), values, level)


def _percentile_interval(estimate: float, values: list[float], level: float) -> StatisticInterval:
    """The percentile interval of the replicates' values; NaN ones are undefined, left out."""
    kept = np.array([v for v in values if not math.isnan(v)])
    alpha = (1.0 - level) / 2.0
    low, high = (np.quantile(kept, [alpha, 1.0 - alpha]).tolist() if kept.size
                 else [math.nan, math.nan])
    return StatisticInterval(estimate, low, high, level, len(values), len(values) - kept.size)


def _defined(value: float | None) -> float:
    return math.nan if value is None else float(value)


# --- shared numerics ----------------------------------------------------------------------


def log_factorials(n: int) -> FloatArray:
    """ln(i!) for i = 0 .. n (at least), from math.lgamma; a shared read-only table."""
    return _log_factorial_table(max(64, 1 << n.bit_length()))


@lru_cache(maxsize=8)
def _log_factorial_table(size: int) -> FloatArray:
    table = np.array([math.lgamma(i + 1) for i in range(size + 1)])
    table.flags.writeable = False
    return table
