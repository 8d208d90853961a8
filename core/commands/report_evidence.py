"""The evidence sections of `reachscope report`: json, table, csv and markdown renderings of
core.evidence_report (answer distributions, majority vote, stability, support, dSE,
transitions, truncation) and of the checkpoint trajectory."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import click
from reachscope.store import Run
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..analysis import Comparison
from ..evidence import StatisticInterval
from ..evidence_report import Evidence, PairEvidence, RunEvidence, evidence
from ..report_rows import evidence_rows, is_missing
from ..trajectory import Trajectory, trajectory
from ._common import text_console


def evidence_of(db: Any, cmp: Comparison, ks: list[int], resamples: int,
                seed: int) -> Evidence:
    """The evidence of the compared runs on ``ks`` (the report's table grid)."""
    return evidence(db, cmp.runs, cmp.keys, ks, resamples=resamples, seed=seed)


def show_trajectory(db: Any, runs: list[Run], order: list[str], grader: str | None,
                    fmt: str) -> None:
    """Print the checkpoint trajectory of ``runs`` in ``fmt``."""
    import json

    try:
        tr = trajectory(db, runs, order or None, grader)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(trajectory_json(tr), indent=2))
    elif fmt == "csv":
        click.echo(trajectory_csv(tr), nl=False)
    elif fmt == "markdown":
        click.echo(trajectory_markdown(tr))
    else:
        print_trajectory(tr, text_console())


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _curve(ks: list[int], values: Any) -> dict[str, float | None]:
    return {str(k): _num(float(v)) for k, v in zip(ks, values)}


def _interval(ci: StatisticInterval | None) -> dict[str, Any] | None:
    if ci is None:
        return None
    return {"estimate": _num(ci.estimate), "low": _num(ci.low), "high": _num(ci.high),
            "level": ci.level, "resamples": ci.resamples, "undefined": ci.undefined}


def _run_json(ev: RunEvidence) -> dict[str, Any]:
    ra, t = ev.answers, ev.truncation
    return {
        "label": ev.key, "grader": ra.grader, "problems": len(ra.problem_ids),
        "unclustered_answers": ra.unclustered,
        "mean_entropy": _num(ev.mean_entropy),
        "mean_normalized_entropy": _num(ev.mean_normalized_entropy),
        "mean_distinct_answers": _num(ev.mean_distinct),
        "mean_mode_share": _num(ev.mean_mode_share),
        "cons_at_n": _num(ev.cons_at_n),
        "maj_at_k": _curve(ev.ks, ev.maj_at_k), "pass_pow_k": _curve(ev.ks, ev.pass_pow_k),
        # Per-problem maj@k values read from the store's cache, and computed for this report.
        "maj_at_k_values": {"cached": ev.maj_cached, "computed": ev.maj_computed},
        "mg_pass_at_k": _curve(ev.ks, ev.mg_pass_at_k),
        "g_pass_at_k": {str(tau): _curve(ev.ks, c) for tau, c in ev.g_pass_at_k.items()},
        "truncation": {
            "samples": t.samples, "truncated": t.truncated, "share": _num(t.truncated_share),
            "incorrect_truncated_share": _num(t.incorrect_truncated_share),
            "no_answer_truncated_share": _num(t.no_answer_truncated_share),
        },
        "problems_detail": [
            {"problem_id": pid, "answered": d.answered, "no_answer": d.no_answer,
             "distinct": d.distinct, "entropy": _num(d.entropy),
             "normalized_entropy": _num(d.normalized_entropy), "mode_share": _num(d.mode_share),
             "mode_correct": _num(d.mode_correct), "truncated": tr.truncated,
             "truncated_share": _num(tr.truncated_share),
             "incorrect_truncated_share": _num(tr.incorrect_truncated_share),
             "no_answer_truncated_share": _num(tr.no_answer_truncated_share)}
            for pid, d, tr in zip(ra.problem_ids, ra.distributions, ra.truncation)
        ],
    }


def _pair_json(p: PairEvidence, ks: list[int]) -> dict[str, Any]:
    s, gap, cw = p.support, p.efficiency_gap, p.confidently_wrong
    maj = p.maj_difference
    return {
        "base": p.base, "run": p.other, "problems": len(p.problems), "k": p.k,
        "support": {"k": s.k, "preserved": s.preserved, "expanded": s.expanded,
                    "shrunk": s.shrunk, "out": s.out, "srr": _num(s.srr), "ndr": _num(s.ndr),
                    "sds": _num(s.sds), "nscr": _num(s.nscr),
                    "intervals": {k: _interval(v) for k, v in p.support_intervals.items()},
                    "detection_floor": {k: _num(v) for k, v in p.detection_floor.items()}},
        "efficiency_gap": {"k": gap.k, "base_pass_at_k": _num(gap.base_pass_at_k),
                           "run_pass_at_1": _num(gap.rl_pass_at_1), "gap": _num(gap.gap),
                           "interval": _interval(p.efficiency_gap_interval)},
        "confidently_wrong": None if cw is None else {
            "problems": cw.ids, "total": cw.total, "share": _num(cw.share),
            "interval": _interval(p.confidently_wrong_interval)},
        "entropy_difference": _interval(p.entropy_difference),
        "maj_at_k_difference": None if maj is None else {
            "difference": f"{p.other} - {p.base}", "level": maj.level,
            "diff": _curve(ks, maj.diff), "low": _curve(ks, maj.low),
            "high": _curve(ks, maj.high)},
        "accuracy_transitions": {"labels": p.transitions.labels,
                                 "counts": p.transitions.counts(),
                                 "problems": p.transitions.cells},
        "budget_parity": p.parity,
    }


def evidence_json(ev: Evidence) -> dict[str, Any]:
    """The evidence as one JSON-able object, floats at full precision."""
    return {"ks": ev.ks, "runs": [_run_json(r) for r in ev.runs],
            "pairs": [_pair_json(p, ev.ks) for p in ev.pairs], "notes": ev.notes}


def _f(x: float | None, signed: bool = False) -> str:
    if x is None or math.isnan(x):
        return "-"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def _ci(ci: StatisticInterval | None) -> str:
    if ci is None or math.isnan(ci.low):
        return "-"
    return f"[{ci.low:+.3f}, {ci.high:+.3f}]"


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1%}"


def _table(title: str, header: list[str], rows: list[list[str]], caption: str = "") -> Table:
    table = Table(title=title, title_justify="left", caption=caption or None,
                  caption_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1),
                  show_edge=False)
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right", no_wrap=True,
                         min_width=max([len(h), *(len(r[i]) for r in rows)]))
    for row in rows:
        table.add_row(*row)
    return table


def answers_rows(ev: Evidence) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-run answer table."""
    header = ["run", "H", "H/ln a", "distinct", "mode", "cons@n", "no ans", "cut"]
    rows = []
    for r in ev.runs:
        t = r.truncation
        no_ans = sum(d.no_answer for d in r.answers.distributions)
        rows.append([r.key, _f(r.mean_entropy), _f(r.mean_normalized_entropy),
                     "-" if math.isnan(r.mean_distinct) else f"{r.mean_distinct:.2f}",
                     _f(r.mean_mode_share), _f(r.cons_at_n),
                     _pct(no_ans / t.samples if t.samples else math.nan),
                     _pct(t.truncated_share)])
    return header, rows


def curve_rows(ev: Evidence, ks: list[int]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of maj@k, pass^k and mG-Pass@k per k."""
    header = ["k"]
    for name in ("maj", "pass^", "mG"):
        header += [f"{name} {r.key}" for r in ev.runs]
    pos = {k: i for i, k in enumerate(ev.ks)}
    rows = []
    for k in ks:
        i = pos[k]
        row = [str(k)]
        for attr in ("maj_at_k", "pass_pow_k", "mg_pass_at_k"):
            row += [_f(float(getattr(r, attr)[i])) for r in ev.runs]
        rows.append(row)
    return header, rows


def pair_lines(p: PairEvidence, ks: list[int], all_ks: list[int]) -> list[str]:
    """The pair statistics of base vs one run, as lines of text."""
    s, gap = p.support, p.efficiency_gap
    iv = p.support_intervals
    lines = [f"{p.other} vs {p.base} on {len(p.problems)} problems ([CI]: paired bootstrap "
             "over problems)"]
    lines.append(f"  support at K={p.k}: P {s.preserved}  E {s.expanded}  S {s.shrunk}  "
                 f"O {s.out}")
    for name in ("srr", "ndr", "sds", "nscr"):
        lines.append(f"    {name.upper():<5}{_f(getattr(s, name)):>7}  {_ci(iv.get(name))}")
    floor = p.detection_floor[p.base]
    lines.append(f"  detection floor at K={p.k}: 0 correct of K still allows p <= {floor:.4f}"
                 " (95%)")
    lines.append(f"  dSE = pass@{gap.k}({p.base}) {_f(gap.base_pass_at_k)} - pass@1({p.other}) "
                 f"{_f(gap.rl_pass_at_1)} = {_f(gap.gap, True)}  "
                 f"{_ci(p.efficiency_gap_interval)}")
    if p.confidently_wrong is not None:
        cw = p.confidently_wrong
        lines.append(f"  confidently wrong: {len(cw.ids)}/{cw.total} = {_f(cw.share)}  "
                     f"{_ci(p.confidently_wrong_interval)}")
        lines.append(f"    ({p.other}'s mode wrong while {p.base} has a correct sample)")
    if p.entropy_difference is not None:
        e = p.entropy_difference
        lines.append(f"  answer entropy {p.other} - {p.base}: {_f(e.estimate, True)}  {_ci(e)}")
    if p.maj_difference is not None:
        pos = {k: i for i, k in enumerate(all_ks)}
        md = p.maj_difference
        cells = [f"k={k:<5}{md.diff[pos[k]]:+.3f}" + (
            "" if math.isnan(md.low[pos[k]]) else
            f" [{md.low[pos[k]]:+.3f}, {md.high[pos[k]]:+.3f}]") for k in ks]
        lines.append(f"  maj@k {p.other} - {p.base}:")
        lines += [f"    {a:<32}{b}" for a, b in zip(cells[::2], cells[1::2] + [""])]
    lines += [f"  budget parity: {d}" for d in p.parity] or [
        "  budget parity: same n, max_tokens, sampling and prompt"]
    return lines


def transition_table(p: PairEvidence) -> Table:
    """The 12 x 12 base -> run accuracy-bin counts, blank for empty cells."""
    short = ["0", ".1", ".2", ".3", ".4", ".5", ".6", ".7", ".8", ".9", "<1", "1"]
    counts = p.transitions.counts()
    rows = [[f"{short[i]}"] + [str(v) if v else "" for v in row] for i, row in enumerate(counts)]
    return _table(f"accuracy bins {p.base} (rows) -> {p.other} (columns); bin .3 is (.2,.3]",
                  ["", *short], rows)


def transition_moves(p: PairEvidence, limit: int = 8, rows: tuple[int, ...] | None = None,
                     columns: tuple[int, ...] | None = None) -> list[str]:
    """The problems (dataset indices) of off-diagonal transition cells, up to ``limit`` each:
    every cell, or those in base bins ``rows`` or run bins ``columns`` (the table: moves from
    or to 0)."""
    labels = p.transitions.labels
    out = []
    for i, row in enumerate(p.transitions.cells):
        for j, cell in enumerate(row):
            picked = rows is None and columns is None or i in (rows or ()) or j in (
                columns or ())
            if cell and i != j and picked:
                shown = ", ".join(str(x) for x in cell[:limit]) + (
                    f", ... ({len(cell)})" if len(cell) > limit else "")
                out.append(f"  {labels[i]} -> {labels[j]}: problems {shown}")
    return out


def print_evidence(ev: Evidence, ks: list[int], console: Console) -> None:
    """The evidence sections as rich tables and lines (fits 80 columns for two runs)."""
    header, rows = answers_rows(ev)
    console.print(_table("answers (means over problems; H in nats, a = answered samples)",
                         header, rows, "mode: share of the largest cluster; no ans / cut: "
                         "share of samples without an answer / stopped for length"))
    for r in ev.runs:
        t = r.truncation
        console.print(f"truncation {r.key}: {t.truncated}/{t.samples} cut for length;"
                      f" of incorrect {_pct(t.incorrect_truncated_share)}, of no-answer "
                      f"{_pct(t.no_answer_truncated_share)}", highlight=False)
    header, rows = curve_rows(ev, ks)
    console.print(_table("majority vote maj@k, pass^k (all k correct), mG-Pass@k", header,
                         rows))
    for p in ev.pairs:
        for line in pair_lines(p, ks, ev.ks):
            console.print(line, highlight=False)
        console.print(transition_table(p))
        for line in transition_moves(p, rows=(0,), columns=(0,)):
            console.print(line, highlight=False)
    for note in ev.notes:
        console.print(Text.assemble(("note:", "yellow"), f" {note}"))


def evidence_markdown(ev: Evidence, ks: list[int]) -> list[str]:
    """The evidence sections as markdown lines."""
    lines: list[str] = []
    for header, rows in (answers_rows(ev), curve_rows(ev, ks)):
        lines += ["", "| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    for p in ev.pairs:
        lines += ["", "```", *pair_lines(p, ks, ev.ks), *transition_moves(p), "```"]
    lines += [f"note: {n}" for n in ev.notes]
    return lines


def evidence_csv(ev: Evidence) -> str:
    """The evidence in long form: ``section,run,metric,k,value,low,high`` (every k)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "run", "metric", "k", "value", "low", "high"])
    for section, run, metric, k, *cells in evidence_rows(ev):
        w.writerow([section, run, metric, "" if k is None else k,
                    *("" if is_missing(c) else repr(float(c)) for c in cells)])  # type: ignore[arg-type]
    return buf.getvalue()


# --- trajectory ---------------------------------------------------------------------------


def trajectory_rows(tr: Trajectory) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the checkpoint trajectory table."""
    header = ["run", "step", "pass@1", f"pass@{tr.k}", "dSE", "both", "only base", "only run",
              "H"]
    rows = []
    for row in tr.rows:
        rows.append([row.key, "-" if row.step is None else str(row.step), _f(row.pass_at_1),
                     _f(row.pass_at_k), _f(row.dse, True),
                     *(["-"] * 3 if row.coverage is None else
                       [str(len(row.coverage.both)), str(len(row.coverage.only_a)),
                        str(len(row.coverage.only_b))]),
                     _f(row.mean_entropy)])
    return header, rows


def trajectory_json(tr: Trajectory) -> dict[str, Any]:
    """The trajectory as a JSON-able object."""
    return {"base": tr.base, "k": tr.k, "rows": [
        {"label": r.key, "step": r.step, "pass_at_1": _num(r.pass_at_1),
         "pass_at_k": _num(r.pass_at_k), "dse": _num(r.dse),
         "coverage": None if r.coverage is None else {
             "both": len(r.coverage.both), "only_base": len(r.coverage.only_a),
             "only_run": len(r.coverage.only_b), "neither": len(r.coverage.neither)},
         "mean_entropy": _num(r.mean_entropy)} for r in tr.rows]}


def print_trajectory(tr: Trajectory, console: Console) -> None:
    header, rows = trajectory_rows(tr)
    console.print(_table(f"checkpoint trajectory against {tr.base} (K = {tr.k}; dSE = "
                         f"pass@K({tr.base}) - pass@1(run))", header, rows,
                         "both / only base / only run: problems solved (>= 1 correct); "
                         "H: mean answer entropy"))


def trajectory_csv(tr: Trajectory) -> str:
    header, rows = trajectory_rows(tr)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if c == "-" else c for c in row])
    return buf.getvalue()


def trajectory_markdown(tr: Trajectory) -> str:
    header, rows = trajectory_rows(tr)
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
