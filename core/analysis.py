"""Comparisons of runs: the numbers behind `reachscope report` and the app's Compare screen."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import sqlite_utils
from reachscope.store import Run, StoreError
from reachscope.store.counts import run_counts
from reachscope.store.grades import resolve_grader, solved_within
from reachscope.store.runs import get_run, list_runs

from . import metrics
from .metrics import BootstrapResult, Coverage, FloatArray


@dataclass
class RunCounts:
    """n and c per problem of one run under one grader (aligned arrays)."""

    run: Run
    grader: str
    problem_ids: list[int]
    n: np.ndarray
    c: np.ndarray

    @property
    def n_max(self) -> int:
        return int(self.n.max()) if self.n.size else 0

    @property
    def n_min(self) -> int:
        return int(self.n.min()) if self.n.size else 0

    def solved(self) -> set[int]:
        return {p for p, c in zip(self.problem_ids, self.c.tolist()) if c > 0}

    def mean_accuracy(self) -> float:
        """Mean over problems of c/n (equals pass@1)."""
        return float((self.c / self.n).mean()) if self.n.size else float("nan")


def load_counts(db: sqlite_utils.Database, run: Run, grader: str | None = None) -> RunCounts:
    """Read a run's per-problem counts (from the `counts` table, never the samples)."""
    chosen = resolve_grader(db, run, grader)
    rows = sorted(run_counts(db, run.id, chosen).items())
    return RunCounts(
        run=run,
        grader=chosen,
        problem_ids=[p for p, _ in rows],
        n=np.array([nc[0] for _, nc in rows], dtype=np.int64),
        c=np.array([nc[1] for _, nc in rows], dtype=np.int64),
    )


@dataclass
class Comparison:
    """Everything `report` prints for a set of runs; pair statistics are for runs[0] vs runs[1]."""

    runs: list[RunCounts]
    ks: list[int]
    curves: dict[str, FloatArray]  # run key -> mean pass@k on ks
    keys: list[str]  # run key per run (label, or dataset/label when labels repeat)
    shared_problems: list[int] = field(default_factory=list)
    coverage: Coverage | None = None
    coverage_at_k: Coverage | None = None
    crossover_k: int | None = None
    bootstrap: BootstrapResult | None = None
    histograms: dict[str, list[int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def run_keys(runs: list[Run]) -> list[str]:
    """Short unique names: labels, or dataset/label where a label repeats."""
    labels = [r.label for r in runs]
    return [r.label if labels.count(r.label) == 1 else r.ref for r in runs]


def compare(
    db: sqlite_utils.Database,
    runs: list[Run],
    ks: list[int] | None = None,
    grader: str | None = None,
    coverage_k: int | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> Comparison:
    """Compute pass@k curves for every run and pair statistics for the first two.

    Args:
        runs: one or more runs. Pair statistics (coverage, crossover, bootstrap) use the first
            two, on the problems both have counts for.
        ks: k grid; default every k from 1 to the largest n.
        grader: grader to use for every run (default: each run's primary grader).
        coverage_k: also compute coverage using each problem's first k samples.
        bootstrap: bootstrap replicates for the pass@k difference (0 disables).
    """
    if not runs:
        raise StoreError("no runs to compare")
    counts = [load_counts(db, r, grader) for r in runs]
    n_max = max(rc.n_max for rc in counts)
    grid = sorted(set(ks)) if ks else metrics.default_ks(n_max)
    keys = run_keys(runs)
    # Per-problem pass@k once per run: the curves and the pair statistics both use it.
    # (`counts` rows all have n > 0, the condition pass_at_k_curve filters on.)
    matrices = [metrics.pass_at_k_matrix(rc.n, rc.c, grid) for rc in counts]
    curves = {
        key: m.mean(axis=0) if m.shape[0] else np.full(len(grid), np.nan)
        for key, m in zip(keys, matrices)
    }
    out = Comparison(runs=counts, ks=grid, curves=curves, keys=keys)
    out.histograms = {key: metrics.accuracy_histogram(rc.n, rc.c) for key, rc in zip(keys, counts)}
    for key, rc in zip(keys, counts):
        if rc.n.size and rc.n_min != rc.n_max:
            out.notes.append(
                f"{key}: problems have between {rc.n_min} and {rc.n_max} samples; "
                f"pass@k is reported only for k <= {rc.n_min}"
            )
    if len(counts) < 2:
        return out
    a, b = counts[0], counts[1]
    if a.run.dataset != b.run.dataset:
        out.notes.append(
            f"{keys[0]} and {keys[1]} are on different datasets; no coverage or bootstrap"
        )
        return out
    shared = sorted(set(a.problem_ids) & set(b.problem_ids))
    out.shared_problems = shared
    if len(shared) < max(len(a.problem_ids), len(b.problem_ids)):
        out.notes.append(f"pair statistics use the {len(shared)} problems both runs have")
    out.coverage = metrics.coverage(shared, a.solved(), b.solved())
    if coverage_k is not None:
        if a.run.aggregate_only or b.run.aggregate_only:
            out.notes.append(
                "coverage at k needs per-sample grades; an aggregate-only run has none"
            )
        else:
            out.coverage_at_k = metrics.coverage(
                shared,
                solved_within(db, a.run.id, a.grader, coverage_k),
                solved_within(db, b.run.id, b.grader, coverage_k),
                k=coverage_k,
            )
    ia = {p: i for i, p in enumerate(a.problem_ids)}
    ib = {p: i for i, p in enumerate(b.problem_ids)}
    sel_a = [ia[p] for p in shared]
    sel_b = [ib[p] for p in shared]
    ma, mb = matrices[0][sel_a], matrices[1][sel_b]
    out.crossover_k = metrics.crossover_k(grid, ma.mean(axis=0), mb.mean(axis=0))
    if bootstrap > 0 and shared:
        out.bootstrap = metrics.paired_bootstrap(ma, mb, grid, resamples=bootstrap, seed=seed,
                                                 level=level)
    return out


def choose_runs(db: sqlite_utils.Database, refs: Sequence[str],
                dataset: str | None) -> tuple[list[Run], str]:
    """The runs to report and a note on how they were chosen ('' when given explicitly).

    Given ``refs`` (labels, ``dataset/label`` or ids), those runs; else the runs of ``dataset``;
    else those of the dataset with the most runs (the note names the others).

    Raises:
        StoreError: an unknown or ambiguous run, or no runs at all.
    """
    if refs:
        return [get_run(db, r) for r in refs], ""
    runs = list_runs(db, dataset)
    if not runs:
        raise StoreError(f"no runs{f' on dataset {dataset!r}' if dataset else ''} in database")
    by_dataset = Counter(r.dataset for r in runs)
    if len(by_dataset) == 1:
        return runs, ""
    chosen = by_dataset.most_common(1)[0][0]
    others = ", ".join(d for d in by_dataset if d != chosen)
    return ([r for r in runs if r.dataset == chosen],
            f"reporting dataset {chosen!r}; also in this database: {others} (use --dataset)")


def display_ks(cmp: Comparison, given: list[int] | None) -> list[int]:
    """k rows for tables: the given grid, else powers of two up to the largest n."""
    if given:
        return cmp.ks
    n_max = max(rc.n_max for rc in cmp.runs)
    return [k for k in metrics.log2_ks(n_max) if k in set(cmp.ks)]
