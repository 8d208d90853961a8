"""Count-level evidence formulas against exact arithmetic (issue 11)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reachscope.core import evidence as ev
from reachscope.core import metrics

# --- exact references -------------------------------------------------------------------------


def exact_tail(n: int, c: int, k: int, m: int) -> Fraction:
    """P(X >= m), X ~ Hypergeometric(n, c, k), as an exact fraction."""
    top = sum(math.comb(c, j) * math.comb(n - c, k - j) for j in range(max(m, 0), min(c, k) + 1))
    return Fraction(top, math.comb(n, k))


def exact_g_pass(n: int, c: int, k: int, tau: Fraction) -> Fraction:
    return exact_tail(n, c, k, max(math.ceil(tau * k), 1))


def exact_mg_pass(n: int, c: int, k: int) -> Fraction:
    """OpenCompass's loop, literally: (2/k) sum_{i = ceil(k/2)+1}^{k} P(X >= i)."""
    low = math.ceil(Fraction(k, 2))
    return Fraction(2, k) * sum((exact_tail(n, c, k, i) for i in range(low + 1, k + 1)),
                                Fraction(0))


# --- pass^k, G-Pass@k, mG-Pass@k ---------------------------------------------------------------


@pytest.mark.parametrize(("c", "k"), [(0, 1), (1, 1), (1, 2), (37, 5), (512, 16), (900, 128),
                                      (1000, 512), (1023, 1024), (1024, 1024), (30, 31)])
def test_pass_pow_k_at_n1024_exact(c: int, k: int) -> None:
    got = ev.pass_pow_k_matrix([1024], [c], [k])[0, 0]
    want = Fraction(math.comb(c, k), math.comb(1024, k))
    assert got == pytest.approx(float(want), rel=1e-9, abs=0.0)


@pytest.mark.parametrize(("c", "k", "tau"), [
    (1, 16, "0.25"), (100, 16, "0.25"), (100, 16, "0.75"), (512, 64, "0.5"),
    (700, 256, "0.7"), (900, 512, "1.0"), (3, 64, "0.0"), (50, 1024, "0.5"), (1024, 7, "0.9"),
    (10, 100, "0.05"),  # a tail of ~1e-10: relative precision, no 1 - x
])
def test_g_pass_at_k_at_n1024_exact(c: int, k: int, tau: str) -> None:
    got = ev.g_pass_at_k_matrix([1024], [c], [k], float(tau))[0, 0]
    want = exact_g_pass(1024, c, k, Fraction(tau))
    assert got == pytest.approx(float(want), rel=1e-9, abs=0.0)


@pytest.mark.parametrize(("c", "k"), [(0, 4), (1, 2), (300, 15), (512, 64), (800, 100),
                                      (1024, 9), (1024, 8), (990, 1024)])
def test_mg_pass_at_k_at_n1024_exact(c: int, k: int) -> None:
    got = ev.mg_pass_at_k_matrix([1024], [c], [k])[0, 0]
    assert got == pytest.approx(float(exact_mg_pass(1024, c, k)), rel=1e-9, abs=0.0)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(0, n), st.integers(1, n),
    st.sampled_from(["0", "0.25", "0.5", "0.6", "0.75", "1"]))))
def test_g_and_mg_pass_small_n_exact(case: tuple[int, int, int, str]) -> None:
    n, c, k, tau = case
    g = ev.g_pass_at_k_matrix([n], [c], [k], Fraction(tau))[0, 0]
    assert g == pytest.approx(float(exact_g_pass(n, c, k, Fraction(tau))), rel=1e-12, abs=1e-15)
    mg = ev.mg_pass_at_k_matrix([n], [c], [k])[0, 0]
    assert mg == pytest.approx(float(exact_mg_pass(n, c, k)), rel=1e-12, abs=1e-15)


def test_g_pass_tau_zero_is_pass_at_k_and_grid_matches_metrics_shape() -> None:
    n, c = [4, 9, 9, 1024], [1, 0, 9, 17]
    ks = [1, 2, 4, 8, 16]
    got = ev.g_pass_at_k_matrix(n, c, ks, 0.0)
    want = metrics.pass_at_k_matrix(n, c, ks)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)  # NaN in the same places
    assert np.isnan(got[0, 3]) and np.isnan(got[1, 4])


def test_g_pass_edge_cases() -> None:
    m = ev.g_pass_at_k_matrix([8, 8, 0], [0, 8, 0], [1, 8], 0.5)
    assert m[0].tolist() == [0.0, 0.0] and m[1].tolist() == [1.0, 1.0]
    assert np.isnan(m[2]).all()
    with pytest.raises(ValueError):
        ev.g_pass_at_k_matrix([4], [1], [1], 1.5)
    with pytest.raises(ValueError):
        ev.g_pass_at_k_matrix([4], [5], [1], 0.5)
    with pytest.raises(ValueError):
        ev.mg_pass_at_k_matrix([4], [1], [0])


def test_mg_pass_consequences_of_the_opencompass_definition() -> None:
    m = ev.mg_pass_at_k_matrix([16, 16, 16], [16, 16, 16], [1, 7, 8])
    assert m[0].tolist() == [0.0, pytest.approx(6 / 7), pytest.approx(1.0)]


def test_tau_read_as_decimal_agrees_with_opencompass_float_ceil() -> None:
    for tau in (0.1, 0.25, 0.3, 0.5, 0.6, 0.7, 0.75, 0.9):
        for k in range(1, 1025):
            assert math.ceil(Fraction(str(tau)) * k) == math.ceil(k * tau)


# --- support dynamics and the detection floor ---------------------------------------------------


def test_support_dynamics_counts_and_rates() -> None:
    base = [True, True, True, False, False, True, False]
    rl = [True, True, False, True, False, False, False]
    d = ev.support_dynamics(base, rl, k=64)
    assert (d.preserved, d.expanded, d.shrunk, d.out, d.k) == (2, 1, 2, 2, 64)
    assert d.srr == pytest.approx(2 / 4)
    assert d.ndr == pytest.approx(1 / 3)
    assert d.sds == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert d.nscr == pytest.approx((1 - 2) / 5)


def test_support_dynamics_zero_denominators() -> None:
    nothing = ev.support_dynamics([False, False], [False, False])
    assert (nothing.srr, nothing.ndr, nothing.sds, nothing.nscr) == (None, None, None, None)
    only_rl = ev.support_dynamics([False], [True])
    assert only_rl.srr is None and only_rl.ndr == 1.0 and only_rl.sds is None
    assert only_rl.nscr == 1.0
    lost = ev.support_dynamics([True, True], [False, True])
    assert lost.srr == 0.5 and lost.ndr == 0.0 and lost.sds == 0.0
    disjoint = ev.support_dynamics([True, False], [False, True])
    assert disjoint.srr == 0.0 and disjoint.ndr == 1.0 and disjoint.sds == 0.0
    with pytest.raises(ValueError):
        ev.support_dynamics([True], [])


@pytest.mark.parametrize("n", [1, 2, 10, 256, 1024, 10**6])
def test_detection_floor(n: int) -> None:
    p = ev.detection_floor(n)
    assert (1 - p) ** n == pytest.approx(0.05, rel=1e-9)
    approx = ev.detection_floor_approx(n)
    assert approx == pytest.approx(math.log(20) / n) and approx > p
    if n >= 1024:
        assert approx == pytest.approx(p, rel=2e-3)


def test_detection_floor_edges() -> None:
    assert ev.detection_floor(0) == 1.0 and ev.detection_floor_approx(0) == math.inf
    assert ev.detection_floor(1) == pytest.approx(0.95)
    assert ev.detection_floor(100, 0.99) == pytest.approx(1 - 0.01 ** (1 / 100))
    for bad in ((-1, 0.95), (10, 1.0), (10, 0.0)):
        with pytest.raises(ValueError):
            ev.detection_floor(*bad)
        with pytest.raises(ValueError):
            ev.detection_floor_approx(*bad)


# --- sampling efficiency gap and transitions ---------------------------------------------------


def test_sampling_efficiency_gap_uses_the_shared_budget() -> None:
    base_n, base_c = [8, 16, 8, 0], [1, 0, 4, 0]
    rl_n, rl_c = [4, 4, 4, 4], [4, 0, 2, 1]
    gap = ev.sampling_efficiency_gap(base_n, base_c, rl_n, rl_c)
    assert gap.k == 4
    want_base = sum(1 - Fraction(math.comb(n - c, 4), math.comb(n, 4))
                    for n, c in [(8, 1), (16, 0), (8, 4)]) / 3
    assert gap.base_pass_at_k == pytest.approx(float(want_base))
    assert gap.rl_pass_at_1 == pytest.approx((1 + 0 + 0.5) / 3)
    assert gap.gap == pytest.approx(float(want_base) - 0.5)
    assert ev.sampling_efficiency_gap(base_n, base_c, rl_n, rl_c, k=8).k == 8


def test_sampling_efficiency_gap_errors() -> None:
    with pytest.raises(ValueError):
        ev.sampling_efficiency_gap([4], [1], [4, 4], [1, 1])
    with pytest.raises(ValueError):
        ev.sampling_efficiency_gap([0], [0], [4], [1])
    assert math.isnan(ev.sampling_efficiency_gap([4], [1], [4], [1], k=5).base_pass_at_k)


def test_accuracy_bin_agrees_with_metrics_histogram() -> None:
    for n in range(1, 31):
        for c in range(n + 1):
            hist = [0] * len(metrics.HISTOGRAM_LABELS)
            hist[ev.accuracy_bin(n, c)] += 1
            assert hist == metrics.accuracy_histogram([n], [c])
    assert ev.accuracy_bin(10, 3) == 3 and ev.accuracy_bin(100, 95) == 10
    assert (ev.accuracy_bin(5, 0), ev.accuracy_bin(5, 5)) == (0, 11)
    with pytest.raises(ValueError):
        ev.accuracy_bin(0, 0)


def test_accuracy_transitions() -> None:
    t = ev.accuracy_transitions([1, 2, 3, 4, 5], [10, 10, 10, 0, 10], [0, 0, 10, 3, 5],
                                [10, 10, 10, 10, 10], [10, 0, 10, 3, 6])
    assert t.labels == metrics.HISTOGRAM_LABELS
    assert t.cells[0][11] == [1] and t.cells[0][0] == [2] and t.cells[11][11] == [3]
    assert t.cells[5][6] == [5]
    counts = t.counts()
    assert sum(map(sum, counts)) == 4  # problem 4 has no base samples
    with pytest.raises(ValueError):
        ev.accuracy_transitions([1], [1, 2], [0], [1], [0])


# --- truncation ---------------------------------------------------------------------------------


def test_truncation_counts_from_rows() -> None:
    rows = [("length", False, False), ("length", False, True), ("stop", False, False),
            ("stop", True, True), ("length", True, True), (None, None, False),
            ("length", None, True)]
    t = ev.TruncationCounts.from_rows(rows)
    assert t == ev.TruncationCounts(samples=7, truncated=4, incorrect=3, incorrect_truncated=2,
                                    no_answer=3, no_answer_truncated=1)
    assert t.truncated_share == pytest.approx(4 / 7)
    assert t.incorrect_truncated_share == pytest.approx(2 / 3)
    assert t.no_answer_truncated_share == pytest.approx(1 / 3)


def test_truncation_empty() -> None:
    t = ev.TruncationCounts.from_rows([])
    assert t == ev.TruncationCounts(0, 0, 0, 0, 0, 0)
    assert math.isnan(t.truncated_share) and math.isnan(t.incorrect_truncated_share)
    assert math.isnan(t.no_answer_truncated_share)


# --- budget parity ------------------------------------------------------------------------------


def test_budget_differences_sentences() -> None:
    base = {"n": 1024, "max_tokens": 1024, "temperature": 0.6, "top_p": 1.0, "seed": 0,
            "template": "boxed", "template_text": "Q: {q}", "chat_template": False}
    rl = {"n": 1024, "max_tokens": 3072, "temperature": 0.6, "top_p": 0.95, "top_k": 20,
          "seed": 1, "template": "boxed", "template_text": "Q: {q}\nA:", "chat_template": True}
    assert ev.budget_differences(base, rl) == [
        "RL sampled with max_tokens 3072, base with 1024",
        "RL sampled with top_p 0.95, base with 1",
        "RL sampled with top_k 20; base has no top_k recorded",
        "RL sampled with chat_template on, base with off",
        "RL and base used different text for prompt template 'boxed'",
    ]


def test_budget_differences_templates_and_names() -> None:
    same_text = {"template": "a", "template_text": "X"}
    assert ev.budget_differences(same_text, {"template": "b", "template_text": "X"}) == []
    assert ev.budget_differences({"template": "a"}, {"template": "b"}, ("step0", "step50")) == [
        "step50 used prompt template 'b', step0 'a'"]
    assert ev.budget_differences({"template": "a", "template_text": "X"},
                                 {"template": "b", "template_text": "Y"}) == [
        "RL used prompt template 'b', base 'a'"]
    assert ev.budget_differences({"max_tokens": 512}, {}) == [
        "base sampled with max_tokens 512; RL has no max_tokens recorded"]
    assert ev.budget_differences({"seed": 1, "n": 4}, {"seed": 2, "n": 4}) == []


# --- checkpoint order -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "step"), [
    ("step50", 50), ("qwen-global_step_200", 200), ("ckpt-400", 400),
    ("org/model/checkpoint-1000", 1000), ("GRPO_Step_7", 7), ("globalstep30", 30),
    ("run-step5/checkpoint-60", 60), ("mystep5", None), ("steps", None), ("base", None),
    (None, None), ("ckpt_12b", 12),
])
def test_checkpoint_step(name: str | None, step: int | None) -> None:
    assert ev.checkpoint_step(name) == step


@dataclass
class FakeRun:
    """Plain stand-in for store.Run: only the three fields ordering reads."""

    label: str
    model: str | None
    created_at: str


def test_order_checkpoints() -> None:
    runs = [
        FakeRun("final", "org/rl-final", "2025-01-05"),
        FakeRun("late", "out/checkpoint-1000", "2025-01-01"),
        FakeRun("step50", None, "2025-01-04"),
        FakeRun("base", "Qwen2.5-7B", "2025-01-02"),
        FakeRun("ckpt-400", None, "2025-01-03"),
        FakeRun("global_step_200", "x/step900", "2025-01-06"),  # the label's step wins
    ]
    order = [r.label for r in ev.order_checkpoints(runs)]
    assert order == ["step50", "global_step_200", "ckpt-400", "late", "base", "final"]
    explicit = [r.label for r in ev.order_checkpoints(runs, ["base", "final"])]
    assert explicit == ["base", "final", "step50", "global_step_200", "ckpt-400", "late"]
    with pytest.raises(ValueError, match="nope"):
        ev.order_checkpoints(runs, ["nope"])


def test_order_checkpoints_ties_by_creation_time() -> None:
    runs = [FakeRun("b-step10", None, "2025-02-02"), FakeRun("a-step10", None, "2025-02-01")]
    assert [r.label for r in ev.order_checkpoints(runs)] == ["a-step10", "b-step10"]


# --- paired bootstrap -------------------------------------------------------------------------


def test_bootstrap_statistic_matches_metrics_for_a_mean_difference() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.random(40), rng.random(40) * 0.5 + 0.3
    mean = ev.paired_bootstrap_mean(a, b, resamples=400, seed=9)
    general = ev.paired_bootstrap_statistic(
        a, b, lambda x, y: float(y.mean() - x.mean()), resamples=400, seed=9)
    res = metrics.paired_bootstrap(a[:, None], b[:, None], [1], resamples=400, seed=9)
    assert mean.estimate == pytest.approx(float(b.mean() - a.mean()))
    assert (mean.low, mean.high) == (pytest.approx(res.low[0]), pytest.approx(res.high[0]))
    assert general.estimate == pytest.approx(mean.estimate)
    assert general.low == pytest.approx(mean.low) and general.high == pytest.approx(mean.high)
    assert general.low < general.estimate < general.high and general.undefined == 0


def test_bootstrap_statistic_reproducible_and_counts_undefined() -> None:
    base = np.array([True, True, False, False, True, False, False, False])
    rl = np.array([True, False, True, False, False, False, False, False])

    def srr(x: np.ndarray, y: np.ndarray) -> float | None:
        return ev.support_dynamics(x, y).srr

    one = ev.paired_bootstrap_statistic(base, rl, srr, resamples=300, seed=2)
    two = ev.paired_bootstrap_statistic(base, rl, srr, resamples=300, seed=2)
    other = ev.paired_bootstrap_statistic(base, rl, srr, resamples=300, seed=3)
    assert one == two and one != other
    assert one.estimate == pytest.approx(1 / 3)
    # A resample without any base-solved problem has SRR 0/0: about 300 * (5/8)^8 ~ 7 of them.
    assert 0 < one.undefined < 30
    assert 0.0 <= one.low <= one.estimate <= one.high <= 1.0


def test_bootstrap_rejects_unaligned() -> None:
    with pytest.raises(ValueError):
        ev.paired_bootstrap_statistic([1.0], [1.0, 2.0], lambda x, y: 0.0)
    with pytest.raises(ValueError):
        ev.paired_bootstrap_mean([], [])


def test_bootstrap_of_sums_equals_the_general_bootstrap() -> None:
    rng = np.random.default_rng(4)
    base, rl = rng.random(60) < 0.4, rng.random(60) < 0.5
    cells = np.stack([base & rl, rl & ~base, base & ~rl], axis=1)
    for name in ("srr", "ndr", "sds", "nscr"):
        def general(x: np.ndarray, y: np.ndarray, name: str = name) -> float | None:
            return getattr(ev.support_dynamics(x, y), name)  # type: ignore[no-any-return]

        def of_sums(s: tuple[int, ...], name: str = name) -> float | None:
            return getattr(ev.SupportDynamics(s[0], s[1], s[2], 60 - sum(s)), name)  # type: ignore[no-any-return]

        want = ev.paired_bootstrap_statistic(base, rl, general, resamples=300, seed=6)
        assert ev.paired_bootstrap_sums(cells, of_sums, resamples=300, seed=6) == want


def test_stability_matrices_equal_the_single_metrics() -> None:
    n, c, ks = [16, 16, 9, 16, 5], [0, 7, 9, 7, 2], [1, 2, 4, 8, 16]
    got = ev.stability_matrices(n, c, ks, (0.25, 0.5, 1.0))
    np.testing.assert_allclose(got.pass_pow_k, ev.pass_pow_k_matrix(n, c, ks), rtol=1e-15)
    np.testing.assert_allclose(got.mg_pass_at_k, ev.mg_pass_at_k_matrix(n, c, ks), rtol=1e-15)
    for tau, m in got.g_pass_at_k.items():
        np.testing.assert_allclose(m, ev.g_pass_at_k_matrix(n, c, ks, tau), rtol=1e-15)
    assert np.isnan(got.pass_pow_k[2, 4]) and np.isnan(got.mg_pass_at_k[4, 3])
