"""Answer-level and count-level evidence for a set of runs (issue 11), from stored aggregates.

Reads `answer_counts` (through store.answers) and the runs' counts, never the samples, and
applies the pure formulas of core/answers.py and core/evidence.py. Pair statistics compare the
first run (the base) with each other run, with paired bootstrap intervals over problems.
Rendering is in core/commands/report_evidence.py (and, later, the app).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sqlite_utils
from reachscope.store import Run
from reachscope.store import answers as store_answers
from reachscope.store.problems import problems_of

from . import metrics
from .analysis import RunCounts
from .answers import (
    AnswerClusters,
    AnswerDistribution,
    ProblemShare,
    answer_distribution,
    confidently_wrong,
    maj_at_k_matrix,
    mean_entropy,
)
from .evidence import (
    AccuracyTransitions,
    EfficiencyGap,
    StatisticInterval,
    SupportDynamics,
    TruncationCounts,
    accuracy_transitions,
    budget_differences,
    detection_floor,
    paired_bootstrap_mean,
    paired_bootstrap_sums,
    sampling_efficiency_gap,
    stability_matrices,
)
from .metrics import BootstrapResult, FloatArray
from .vote_cache import clusters_of, maj_matrix

#: G-Pass@k thresholds reported (OpenCompass's).
TAUS = (0.25, 0.5, 0.75, 1.0)


@dataclass
class RunAnswers:
    """One run's answer clusters per problem (aligned lists), from `answer_counts`."""

    key: str
    run: Run
    grader: str
    problem_ids: list[int]
    clusters: list[AnswerClusters]
    distributions: list[AnswerDistribution]
    truncation: list[TruncationCounts]
    unclustered: int

    def total_truncation(self) -> TruncationCounts:
        """The run's truncation counts, summed over problems."""
        return TruncationCounts(*(sum(getattr(t, f) for t in self.truncation) for f in (
            "samples", "truncated", "incorrect", "incorrect_truncated", "no_answer",
            "no_answer_truncated")))


def load_run_answers(db: sqlite_utils.Database, counts: RunCounts, key: str) -> RunAnswers:
    """Group a run's stored answer counts into `AnswerClusters` per problem.

    A cluster is correct when the grader accepted any of its samples. Answers without a cluster
    yet count as their own cluster (``unclustered`` says how many distinct answers that is).
    """
    run, grader = counts.run, counts.grader
    by_problem: dict[int, list[store_answers.ClusterCount]] = {}
    for row in store_answers.cluster_counts(db, run.id, grader):
        by_problem.setdefault(row.problem_id, []).append(row)
    pids = sorted(by_problem)
    clusters, truncation = [], []
    for pid in pids:
        rows = by_problem[pid]
        missing = [r for r in rows if r.answer == store_answers.NO_ANSWER]
        clusters.append(clusters_of(rows))
        truncation.append(TruncationCounts(
            samples=sum(r.n for r in rows), truncated=sum(r.truncated for r in rows),
            incorrect=sum(r.n - r.c for r in rows),
            incorrect_truncated=sum(r.truncated - r.truncated_c for r in rows),
            no_answer=sum(r.n for r in missing), no_answer_truncated=sum(
                r.truncated for r in missing)))
    return RunAnswers(key, run, grader, pids, clusters,
                      [answer_distribution(c) for c in clusters], truncation,
                      store_answers.unclustered_answers(db, run.id, grader))


@dataclass
class RunEvidence:
    """Per-run evidence: answer spread, majority vote, stability curves, truncation.

    Curves are means over problems on ``ks`` (NaN where some problem has fewer samples).
    """

    key: str
    answers: RunAnswers
    ks: list[int]
    mean_entropy: float
    mean_normalized_entropy: float
    mean_distinct: float
    mean_mode_share: float
    cons_at_n: float
    maj_at_k: FloatArray
    pass_pow_k: FloatArray
    mg_pass_at_k: FloatArray
    g_pass_at_k: dict[float, FloatArray]
    truncation: TruncationCounts
    maj_cached: int = 0
    maj_computed: int = 0


@dataclass
class PairEvidence:
    """The base (first run) against one other run, on the problems both have.

    Intervals are percentile paired bootstraps over problems (``other - base`` for differences).
    """

    base: str
    other: str
    problems: list[int]
    k: int
    support: SupportDynamics
    support_intervals: dict[str, StatisticInterval]
    detection_floor: dict[str, float]
    efficiency_gap: EfficiencyGap
    efficiency_gap_interval: StatisticInterval | None
    confidently_wrong: ProblemShare | None
    confidently_wrong_interval: StatisticInterval | None
    entropy_difference: StatisticInterval | None
    maj_difference: BootstrapResult | None
    #: The accuracy-bin transitions, each cell listing its problems by dataset index (``idx``,
    #: what a user sees); ``transition_ids`` holds the same cells by problem id (for links).
    transitions: AccuracyTransitions
    parity: list[str]
    transition_ids: AccuracyTransitions | None = None


@dataclass
class Evidence:
    """Everything the report's evidence sections show."""

    ks: list[int]
    runs: list[RunEvidence]
    pairs: list[PairEvidence] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _mean(matrix: FloatArray) -> FloatArray:
    return matrix.mean(axis=0) if matrix.shape[0] else np.full(matrix.shape[1], math.nan)


def _nanmean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return math.fsum(kept) / len(kept) if kept else math.nan


def run_evidence(ra: RunAnswers, rc: RunCounts, ks: list[int],
                 maj: FloatArray | None = None) -> tuple[RunEvidence, FloatArray]:
    """One run's evidence on ``ks``, and its per-problem maj@k matrix (for pair intervals).

    Args:
        maj: the per-problem maj@k on ``ks`` where the caller has it (`vote_cache.maj_matrix`);
            computed here otherwise.
    """
    if maj is None:
        maj = maj_at_k_matrix(ra.clusters, ks)
    dist = ra.distributions
    stab = stability_matrices(rc.n, rc.c, ks, TAUS)
    ev = RunEvidence(
        key=ra.key, answers=ra, ks=ks,
        mean_entropy=mean_entropy(dist), mean_normalized_entropy=mean_entropy(dist, True),
        mean_distinct=_nanmean([float(d.distinct) for d in dist if d.answered]),
        mean_mode_share=_nanmean([d.mode_share for d in dist]),
        cons_at_n=_nanmean([float(d.mode_correct) for d in dist if d.mode_correct is not None]),
        maj_at_k=_mean(maj), pass_pow_k=_mean(stab.pass_pow_k),
        mg_pass_at_k=_mean(stab.mg_pass_at_k),
        g_pass_at_k={t: _mean(m) for t, m in stab.g_pass_at_k.items()},
        truncation=ra.total_truncation(),
    )
    return ev, maj


def _support_statistic(name: str, problems: int):  # noqa: ANN202 - a closure over the name
    """SRR, NDR, SDS or NSCR from a replicate's (both, only other, only base) solved counts."""
    def statistic(sums: tuple[int, ...]) -> float | None:
        both, only_other, only_base = sums
        dyn = SupportDynamics(both, only_other, only_base,
                              problems - both - only_other - only_base)
        return getattr(dyn, name)  # type: ignore[no-any-return]
    return statistic


def pair_evidence(base: tuple[RunAnswers, RunCounts, FloatArray],
                  other: tuple[RunAnswers, RunCounts, FloatArray], ks: list[int],
                  resamples: int, seed: int,
                  problem_idx: dict[int, int] | None = None) -> PairEvidence | None:
    """The base against one other run (None when they share no problem).

    Args:
        problem_idx: problem id -> dataset index, for the transition cells (ids where absent).
    """
    (ba, bc, bmaj), (oa, oc, omaj) = base, other
    shared = sorted(set(bc.problem_ids) & set(oc.problem_ids))
    if not shared:
        return None
    # Answer-level statistics need both runs' answers (an aggregate-only run has none).
    answered = shared if set(shared) <= set(ba.problem_ids) & set(oa.problem_ids) else []

    def pick(ids: list[int], values: list | np.ndarray,  # type: ignore[type-arg]
             on: list[int] = shared) -> list:  # type: ignore[type-arg]
        pos = {p: i for i, p in enumerate(ids)}
        return [values[pos[p]] for p in on]

    bn, bcc = np.array(pick(bc.problem_ids, bc.n)), np.array(pick(bc.problem_ids, bc.c))
    on, occ = np.array(pick(oc.problem_ids, oc.n)), np.array(pick(oc.problem_ids, oc.c))
    k = int(min(bn.min(), on.min()))
    # At the largest common budget every problem has all its samples when n is constant;
    # otherwise pass@K > 0 (some correct sample could be among K) is the solved flag.
    solved_b = metrics.pass_at_k_matrix(bn, bcc, [k])[:, 0] > 0
    solved_o = metrics.pass_at_k_matrix(on, occ, [k])[:, 0] > 0
    support = SupportDynamics(int(np.sum(solved_b & solved_o)), int(np.sum(solved_o & ~solved_b)),
                              int(np.sum(solved_b & ~solved_o)),
                              int(np.sum(~solved_b & ~solved_o)), k)
    intervals: dict[str, StatisticInterval] = {}
    gap = sampling_efficiency_gap(bn, bcc, on, occ, k)
    gap_ci = cw_ci = ent_ci = None
    maj_diff = None
    odist = pick(oa.problem_ids, oa.distributions, answered)
    cw = confidently_wrong(answered, odist, [int(x) for x in bcc]) if answered else None
    if resamples > 0:
        cells = np.stack([solved_b & solved_o, solved_o & ~solved_b, solved_b & ~solved_o],
                         axis=1)
        for name in ("srr", "ndr", "sds", "nscr"):
            intervals[name] = paired_bootstrap_sums(
                cells, _support_statistic(name, len(shared)), resamples=resamples, seed=seed)
        gap_ci = paired_bootstrap_mean(metrics.pass_at_k_matrix(on, occ, [1])[:, 0],
                                       metrics.pass_at_k_matrix(bn, bcc, [k])[:, 0],
                                       resamples=resamples, seed=seed)
    if resamples > 0 and answered:
        wrong_mode = np.array([d.mode_correct == 0 for d in odist])
        cw_ci = paired_bootstrap_sums(((bcc > 0) & wrong_mode)[:, None],
                                      lambda sums: sums[0] / len(answered),
                                      resamples=resamples, seed=seed)
        bent = np.array([d.entropy for d in pick(ba.problem_ids, ba.distributions, answered)])
        oent = np.array([d.entropy for d in odist])
        both = ~np.isnan(bent) & ~np.isnan(oent)
        if both.any():
            ent_ci = paired_bootstrap_mean(bent[both], oent[both], resamples=resamples,
                                           seed=seed)
        mb = np.array(pick(ba.problem_ids, bmaj, answered))
        mo = np.array(pick(oa.problem_ids, omaj, answered))
        maj_diff = metrics.paired_bootstrap(mb, mo, ks, resamples=resamples, seed=seed)
    by_id = accuracy_transitions(shared, bn.tolist(), bcc.tolist(), on.tolist(), occ.tolist())
    idx = problem_idx or {}
    by_idx = AccuracyTransitions(by_id.labels, [[[idx.get(p, p) for p in cell] for cell in row]
                                                for row in by_id.cells])
    return PairEvidence(
        base=ba.key, other=oa.key, problems=shared, k=k, support=support,
        support_intervals=intervals,
        detection_floor={ba.key: detection_floor(k), oa.key: detection_floor(k)},
        efficiency_gap=gap, efficiency_gap_interval=gap_ci, confidently_wrong=cw,
        confidently_wrong_interval=cw_ci, entropy_difference=ent_ci, maj_difference=maj_diff,
        transitions=by_idx,
        parity=budget_differences(_params(ba.run), _params(oa.run), (ba.key, oa.key)),
        transition_ids=by_id,
    )


def _params(run: Run) -> dict[str, object]:
    params = dict(run.params)
    if run.prompt_template is not None:
        params.setdefault("template_text", run.prompt_template)
    return params


def evidence(db: sqlite_utils.Database, counts: list[RunCounts], keys: list[str],
             ks: list[int], resamples: int = 1000, seed: int = 0) -> Evidence:
    """Every evidence metric for runs (counts as `analysis.compare` loaded them) on ``ks``.

    Pair statistics compare ``counts[0]`` with each later run on the same dataset.
    """
    out = Evidence(ks=ks, runs=[])
    loaded = []
    for rc, key in zip(counts, keys):
        ra = load_run_answers(db, rc, key)
        votes = maj_matrix(db, rc.run.id, rc.grader, ra.problem_ids, ra.clusters, ks)
        ev, maj = run_evidence(ra, rc, ks, votes.values)
        ev.maj_cached, ev.maj_computed = votes.cached, votes.computed
        out.runs.append(ev)
        loaded.append((ra, rc, maj))
        if not ra.problem_ids:
            out.notes.append(f"{key}: no per-sample answers stored (aggregate-only run?); "
                             "answer-level metrics are empty")
        elif ra.unclustered:
            out.notes.append(f"{key}: {ra.unclustered} answers not clustered yet (grouped by "
                             "exact string; `reachscope grade --cluster-only` clusters them)")
        if ev.maj_computed:
            out.notes.append(f"{key}: maj@k of {ev.maj_computed} (problem, k) not cached, "
                             "computed for this report (`reachscope grade --cluster-only` "
                             "caches them)")
    same = [i for i in range(1, len(counts)) if counts[i].run.dataset == counts[0].run.dataset]
    ids = sorted({p for i in [0, *same] for p in counts[i].problem_ids}) if same else []
    idx = {pid: row.idx for pid, row in problems_of(db, ids).items()} if ids else {}
    for i in same:
        pair = pair_evidence(loaded[0], loaded[i], ks, resamples, seed, idx)
        if pair is not None:
            out.pairs.append(pair)
    return out
