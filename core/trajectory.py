"""Checkpoint trajectories (issue 11): runs along training, each against the base.

Runs are ordered by `evidence.order_checkpoints` (explicit order, else the step in the label or
model name, else creation time). The base is the first run of an explicit order, else the
earliest run without a step, else the first run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sqlite_utils
from reachscope.store import Run

from . import metrics
from .analysis import RunCounts, load_counts, run_keys
from .answers import mean_entropy
from .evidence import checkpoint_step, order_checkpoints, sampling_efficiency_gap
from .evidence_report import load_run_answers
from .metrics import Coverage


@dataclass
class TrajectoryRow:
    """One checkpoint: pass@1, pass@K, dSE and coverage against the base, answer entropy."""

    key: str
    step: int | None
    pass_at_1: float
    pass_at_k: float
    dse: float
    coverage: Coverage | None  # only_a: only the base, only_b: only this run
    mean_entropy: float


@dataclass
class Trajectory:
    base: str
    k: int
    rows: list[TrajectoryRow]


def _step(run: Run) -> int | None:
    label = checkpoint_step(run.label)
    return label if label is not None else checkpoint_step(run.model)


def trajectory(db: sqlite_utils.Database, runs: list[Run], order: list[str] | None = None,
               grader: str | None = None) -> Trajectory:
    """The trajectory table of ``runs`` (store.Run), base first, then the checkpoints in order.

    K is the largest budget every run has on every problem (the smallest n).
    """
    ordered = order_checkpoints(runs, order)
    if order:
        base = ordered[0]
    else:
        unstepped = sorted((r for r in ordered if _step(r) is None), key=lambda r: r.created_at)
        base = unstepped[0] if unstepped else ordered[0]
    ordered = [base] + [r for r in ordered if r is not base]
    counts: list[RunCounts] = [load_counts(db, r, grader) for r in ordered]
    keys = run_keys(ordered)
    k = min((rc.n_min for rc in counts if rc.n.size), default=1)
    b = counts[0]
    rows = []
    for run, rc, key in zip(ordered, counts, keys):
        answers = load_run_answers(db, rc, key)
        p1 = float(metrics.pass_at_k_curve(rc.n, rc.c, [1])[0]) if rc.n.size else math.nan
        pk = float(metrics.pass_at_k_curve(rc.n, rc.c, [k])[0]) if rc.n.size else math.nan
        shared = sorted(set(b.problem_ids) & set(rc.problem_ids))
        dse, cov = math.nan, None
        if shared:
            bi = {p: i for i, p in enumerate(b.problem_ids)}
            ri = {p: i for i, p in enumerate(rc.problem_ids)}
            sb, sr = [bi[p] for p in shared], [ri[p] for p in shared]
            dse = sampling_efficiency_gap(b.n[sb], b.c[sb], rc.n[sr], rc.c[sr], k).gap
            cov = metrics.coverage(shared, b.solved(), rc.solved())
        rows.append(TrajectoryRow(key, _step(run), p1, pk, dse,
                                  None if rc is b else cov,
                                  mean_entropy(answers.distributions)))
    return Trajectory(keys[0], k, rows)
