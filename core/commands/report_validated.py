"""`reachscope report --validated`: CoT-pass@k from the review labels, with its bounds.

Per run, on the problems of the review queues holding it that have at least one judged sample:
a lower bound (unjudged correct samples invalid), an upper bound (valid), and an estimate (each
problem's judged valid fraction applied to its correct count) with a bootstrap interval; and
the paper's table (problems solved, problems with at least one valid CoT). The formulas are in
core/review.py (:func:`~reachscope.core.review.validated_estimate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from rich.console import Console
from rich.table import Table

from ..analysis import Comparison
from ..review import ValidatedEstimate, validated_estimate
from ..validated import review_rows


@dataclass
class ValidatedRun:
    """One run's validated pass@k (``estimate`` None: nothing of it judged)."""

    key: str
    queue_problems: int  # problems of the queues holding the run
    solved: int  # of those, problems the run solves (c > 0)
    estimate: ValidatedEstimate | None


def validated_of(conn: sqlite_utils.Database, cmp: Comparison, ks: list[int],
                 reviewer: str | None, resamples: int, seed: int) -> list[ValidatedRun]:
    """Every compared run that some review queue holds (none: empty list)."""
    out: list[ValidatedRun] = []
    for rc, key in zip(cmp.runs, cmp.keys):
        problems, rows = review_rows(conn, rc, reviewer)
        if not problems:
            continue
        out.append(ValidatedRun(key, len(problems), sum(r[1] > 0 for r in rows),
                                validated_estimate(rows, ks, resamples, seed=seed)))
    return out


def _who(reviewer: str | None) -> str:
    return f"labels of {reviewer}" if reviewer is not None else "people's labels (no judges)"


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}"


def print_validated(runs: list[ValidatedRun], ks: list[int], reviewer: str | None,
                    console: Console) -> None:
    """The paper's table, then per run the plain, lower, estimate (interval) and upper curves."""
    if not runs:
        console.print("validated pass@k: no review queue holds these runs "
                      "(`reachscope review DB --runs ...`)")
        return
    paper = Table("run", title=f"validated pass@k: {_who(reviewer)}", title_justify="left")
    for head in ("queue problems", "solved", "reviewed", ">= 1 valid CoT", "judged", "valid"):
        paper.add_column(head, justify="right")
    for r in runs:
        e = r.estimate
        paper.add_row(r.key, str(r.queue_problems), str(r.solved),
                      *((str(e.problems), str(e.with_valid), str(e.judged), str(e.valid)) if e
                        else ("0", "-", "0", "0")))
    console.print(paper)
    for r in runs:
        e = r.estimate
        if e is None:
            console.print(f"{r.key}: no judged sample yet")
            continue
        ci = f"{100 * e.level:.0f}% CI"
        table = Table(title_justify="left",
                      title=f"{r.key}: CoT-pass@k (%) on {e.problems} reviewed problems")
        for head in ("k", "pass@k", "lower", "estimate", ci, "upper"):
            table.add_column(head, justify="right")
        for j, k in enumerate(ks):
            table.add_row(str(k), _pct(e.plain[j]), _pct(e.lower[j]), _pct(e.estimate[j]),
                          "-" if math.isnan(e.low[j]) else
                          f"[{_pct(e.low[j])}, {_pct(e.high[j])}]", _pct(e.upper[j]))
        console.print(table)


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def validated_json(runs: list[ValidatedRun], ks: list[int],
                   reviewer: str | None) -> dict[str, Any]:
    """The same as JSON: per run the counts and each curve on ``ks`` (null where undefined)."""
    out: dict[str, Any] = {"reviewer": reviewer, "k": ks, "runs": {}}
    for r in runs:
        row: dict[str, Any] = {"queue_problems": r.queue_problems, "solved": r.solved}
        e = r.estimate
        if e is not None:
            row.update(reviewed=e.problems, with_valid=e.with_valid, correct=e.correct,
                       judged=e.judged, valid=e.valid, level=e.level, resamples=e.resamples,
                       **{name: [_num(x) for x in getattr(e, name)]
                          for name in ("plain", "lower", "estimate", "low", "high", "upper")})
        out["runs"][r.key] = row
    return out


def validated_markdown(runs: list[ValidatedRun], ks: list[int], reviewer: str | None) -> str:
    """The paper's table and the curves as Markdown tables."""
    lines = [f"### Validated pass@k ({_who(reviewer)})", "",
             "| run | queue problems | solved | reviewed | >= 1 valid CoT |",
             "|---|---:|---:|---:|---:|"]
    for r in runs:
        e = r.estimate
        lines.append(f"| {r.key} | {r.queue_problems} | {r.solved} | "
                     f"{e.problems if e else 0} | {e.with_valid if e else 0} |")
    for r in runs:
        if (e := r.estimate) is None:
            continue
        lines += ["", f"{r.key}, {e.problems} reviewed problems (%):", "",
                  "| k | pass@k | lower | estimate | CI | upper |",
                  "|---:|---:|---:|---:|---|---:|"]
        lines += [f"| {k} | {_pct(e.plain[j])} | {_pct(e.lower[j])} | {_pct(e.estimate[j])} | "
                  f"[{_pct(e.low[j])}, {_pct(e.high[j])}] | {_pct(e.upper[j])} |"
                  for j, k in enumerate(ks)]
    return "\n".join(lines)
