"""The report in long form: one statistic per row, ``(section, run, metric, k, value, low, high)``.

One producer of these rows for every consumer: the CSV evidence section of `reachscope report`,
`reachscope export --what report` and the Python API's long tables. ``k`` is None for statistics
without a budget, ``low``/``high`` the interval where there is one; values are full-precision
floats (NaN where undefined). Pair rows name their run ``"<run> vs <base>"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from .analysis import Comparison
from .evidence import StatisticInterval
from .evidence_report import Evidence
from .metrics import HISTOGRAM_LABELS

#: One row: section, run, metric, k, value, low, high.
Row = tuple[str, str, str, int | None, float | None, float | None, float | None]


def _f(x: float | int | None) -> float | None:
    return None if x is None else float(x)


def _row(section: str, run: str, metric: str, k: int | None, value: float | int | None,
         ci: StatisticInterval | None = None) -> Row:
    return (section, run, metric, k, _f(value), ci.low if ci else None, ci.high if ci else None)


def comparison_rows(cmp: Comparison) -> Iterator[Row]:
    """pass@k per run and k, the paired bootstrap of the difference, coverage, crossover and
    the accuracy histogram (what the report's JSON holds, one number per row)."""
    for key, rc in zip(cmp.keys, cmp.runs):
        yield _row("runs", key, "problems", None, len(rc.problem_ids))
        yield _row("runs", key, "n_min", None, rc.n_min)
        yield _row("runs", key, "n_max", None, rc.n_max)
        yield _row("runs", key, "mean_accuracy", None, rc.mean_accuracy())
    for key, curve in cmp.curves.items():
        for k, v in zip(cmp.ks, curve):
            yield _row("pass_at_k", key, "pass_at_k", k, v)
    if len(cmp.keys) >= 2:
        a, b = cmp.keys[0], cmp.keys[1]
        pair = f"{b} vs {a}"
        if cmp.bootstrap is not None:
            bs = cmp.bootstrap
            for k, d, lo, hi in zip(bs.ks, bs.diff, bs.low, bs.high):
                yield ("pass_at_k", pair, "pass_at_k_difference", k, float(d), float(lo),
                       float(hi))
        for cov in (cmp.coverage, cmp.coverage_at_k):
            if cov is not None:
                c = cov.as_counts()
                for metric, name in (("both", "both"), ("only_base", "only_a"),
                                     ("only_run", "only_b"), ("neither", "neither")):
                    yield _row("coverage", pair, metric, cov.k, c[name])
        yield _row("pass_at_k", pair, "crossover_k", None, cmp.crossover_k)
    for key, hist in cmp.histograms.items():
        for label, count in zip(HISTOGRAM_LABELS, hist):
            yield _row("accuracy_histogram", key, label, None, count)


def evidence_rows(ev: Evidence) -> Iterator[Row]:
    """Every evidence statistic (answers, truncation, maj@k, pass^k, G-Pass, support, dSE,
    confidently wrong, entropy and maj@k differences), every k of ``ev.ks``."""
    for r in ev.runs:
        for metric in ("mean_entropy", "mean_normalized_entropy", "mean_distinct",
                       "mean_mode_share", "cons_at_n"):
            yield _row("answers", r.key, metric, None, getattr(r, metric))
        t = r.truncation
        yield _row("truncation", r.key, "share", None, t.truncated_share)
        yield _row("truncation", r.key, "incorrect_truncated_share", None,
                   t.incorrect_truncated_share)
        yield _row("truncation", r.key, "no_answer_truncated_share", None,
                   t.no_answer_truncated_share)
        for i, k in enumerate(ev.ks):
            yield _row("curves", r.key, "maj_at_k", k, float(r.maj_at_k[i]))
            yield _row("curves", r.key, "pass_pow_k", k, float(r.pass_pow_k[i]))
            yield _row("curves", r.key, "mg_pass_at_k", k, float(r.mg_pass_at_k[i]))
            for tau, c in r.g_pass_at_k.items():
                yield _row("curves", r.key, f"g_pass_at_k_{tau}", k, float(c[i]))
    for p in ev.pairs:
        run = f"{p.other} vs {p.base}"
        for name in ("srr", "ndr", "sds", "nscr"):
            yield _row("support", run, name, p.k, getattr(p.support, name),
                       p.support_intervals.get(name))
        yield _row("support", run, "detection_floor", p.k, p.detection_floor[p.base])
        yield _row("efficiency_gap", run, "dse", p.k, p.efficiency_gap.gap,
                   p.efficiency_gap_interval)
        if p.confidently_wrong is not None:
            yield _row("answers", run, "confidently_wrong", None, p.confidently_wrong.share,
                       p.confidently_wrong_interval)
        if p.entropy_difference is not None:
            yield _row("answers", run, "entropy_difference", None, p.entropy_difference.estimate,
                       p.entropy_difference)
        if p.maj_difference is not None:
            md = p.maj_difference
            for i, k in enumerate(ev.ks):
                yield ("curves", run, "maj_at_k_difference", k, float(md.diff[i]),
                       float(md.low[i]), float(md.high[i]))


def is_missing(x: float | None) -> bool:
    """Whether a row's number is absent (None or NaN)."""
    return x is None or math.isnan(x)
