"""`reachscope report --format html`: the whole report as one self-contained HTML page.

The page holds the figures as inline SVG (drawn by `figures` from the same Comparison the other
formats print), the report's tables (rows from the same functions as the table and markdown
formats), every run's generation parameters and provenance, the problems only one run solves,
and the notes. No scripts, no external files or fonts: it can be attached to a message and
opened anywhere. Every piece of user text (labels, models, problem text, parameters) is escaped.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from html import escape
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import sqlite_utils
from reachscope.store import Run, StoreError
from reachscope.store.problems import problems_of

from . import figures
from .analysis import Comparison
from .evidence_report import Evidence

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1a1a1a;
max-width:60rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;
border-bottom:1px solid #ccc;padding-bottom:.2rem}h3{font-size:1rem}
table{border-collapse:collapse;margin:.6rem 0;font-variant-numeric:tabular-nums}
th,td{padding:.15rem .6rem;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}
th{background:#f4f4f4}caption{caption-side:top;text-align:left;color:#555;font-size:.85rem}td.num,th.num{text-align:right}
figure{margin:1rem 0}figure svg{width:100%;max-width:34rem;height:auto}
figcaption{font-size:.85rem;color:#555}.meta{color:#555;font-size:.9rem}
pre{background:#f7f7f7;padding:.6rem;overflow-x:auto;font-size:.8rem}
.note{background:#fff8e1;border-left:3px solid #e69f00;padding:.3rem .6rem;margin:.3rem 0}
.wide{overflow-x:auto;font-size:.8rem}td.text{max-width:34rem;white-space:pre-wrap;font-size:.85rem}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}figure,table{break-inside:avoid}}
"""


def _num_cell(cell: str) -> bool:
    return cell.strip().lstrip("+-[").replace(".", "", 1)[:1].isdigit() or cell == "-"


def table(header: list[str], rows: list[list[str]], caption: str = "",
          numeric_from: int = 1, text_columns: tuple[int, ...] = ()) -> str:
    """An HTML table of text cells (escaped); numbers from column ``numeric_from`` on align
    right, ``text_columns`` hold long text that wraps."""
    def cls(i: int, cell: str) -> str:
        if i in text_columns:
            return ' class="text"'
        return ' class="num"' if i >= numeric_from and _num_cell(cell) else ""

    head = "".join(f"<th{' class=num' if i >= numeric_from else ''}>{escape(h)}</th>"
                   for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(i, c)}>{escape(c)}</td>" for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(ident: str, title: str, *parts: str) -> str:
    return f'<section id="{ident}"><h2>{escape(title)}</h2>{"".join(parts)}</section>'


def _figure(svg: str | None, caption: str, missing: str) -> str:
    if svg is None:
        return f'<p class="note">{escape(missing)}</p>'
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _value(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False)


def run_sections(cmp: Comparison) -> list[str]:
    """The runs table, and each run's generation parameters and provenance."""
    header = ["label", "model", "dataset", "grader", "problems", "n", "pass@1", "status"]
    rows = []
    for key, rc in zip(cmp.keys, cmp.runs):
        n = str(rc.n_max) if rc.n_min == rc.n_max else f"{rc.n_min}-{rc.n_max}"
        acc = rc.mean_accuracy()
        rows.append([key, rc.run.model or "-", rc.run.dataset, rc.grader,
                     str(len(rc.problem_ids)), n, "-" if math.isnan(acc) else f"{acc:.3f}",
                     rc.run.status + (" (counts only)" if rc.run.aggregate_only else "")])
    fields: list[dict[str, Any]] = []
    for rc in cmp.runs:
        run: Run = rc.run
        fields.append({"model": run.model, "revision": run.revision, "backend": run.backend,
                       "prompt template": run.prompt_template, "n target": run.n_target,
                       "seeds": run.seeds, "primary grader": run.primary_grader,
                       "created": run.created_at, "finished": run.finished_at, **run.params})
    names = list(dict.fromkeys(k for f in fields for k in f))
    kv = [[name, *(_value(f.get(name)) if f.get(name) not in (None, "", [], {}) else "-"
                   for f in fields)] for name in names]
    kv = [row for row in kv if any(c != "-" for c in row[1:])]
    prov = "".join(
        f"<details><summary>provenance of {escape(key)}</summary><pre>"
        f"{escape(json.dumps(rc.run.provenance, indent=2, ensure_ascii=False, sort_keys=True))}"
        "</pre></details>" for key, rc in zip(cmp.keys, cmp.runs))
    return [_section("runs", "Runs", table(header, rows, numeric_from=4)),
            _section("parameters", "Run parameters and provenance",
                     table(["parameter", *cmp.keys], kv, numeric_from=len(cmp.keys) + 1,
                           caption="generation parameters as stored with each run"), prov)]


def solved_by_one(db: sqlite_utils.Database, cmp: Comparison, limit: int = 50) -> str:
    """The problems only one of the pair solves, with their text and reference answer."""
    if cmp.coverage is None:
        return ""
    a, b = cmp.keys[0], cmp.keys[1]
    groups = [(a, cmp.coverage.only_a), (b, cmp.coverage.only_b)]
    ids = [p for _, g in groups for p in g[:limit]]
    problems = problems_of(db, ids) if ids else {}
    parts = []
    for key, group in groups:
        rows = [[str(problems[p].idx), problems[p].prompt, problems[p].answer or ""]
                for p in group[:limit] if p in problems]
        more = f" (first {limit} of {len(group)})" if len(group) > limit else ""
        count = f"{len(group)} problem{'' if len(group) == 1 else 's'}"
        parts.append(f"<h3>only {escape(key)}: {count}{escape(more)}</h3>")
        if rows:
            parts.append(table(["index", "problem", "answer"], rows, numeric_from=3,
                               text_columns=(1, 2)))
    return _section("solved-by-one", "Problems solved by one run only", *parts)


def evidence_sections(ev: Evidence, ks: list[int]) -> list[str]:
    """The answer-level evidence: answer table, maj@k / pass^k / mG-Pass, pair statistics."""
    from .commands.report_evidence import answers_rows, curve_rows, pair_lines, transition_moves

    parts = [table(*answers_rows(ev), caption="answers: means over problems (H in nats)"),
             table(*curve_rows(ev, ks), caption="majority vote maj@k, pass^k, mG-Pass@k")]
    for p in ev.pairs:
        lines = pair_lines(p, ks, ev.ks) + transition_moves(p, rows=(0,), columns=(0,))
        moves = transition_moves(p)
        parts.append(f"<h3>{escape(p.other)} vs {escape(p.base)}</h3>"
                     f"<pre>{escape(chr(10).join(lines))}</pre>"
                     f"<details><summary>every move between accuracy bins ({len(moves)})"
                     f"</summary><pre>{escape(chr(10).join(moves))}</pre></details>")
        labels = p.transitions.labels
        counts = p.transitions.counts()
        parts.append('<div class="wide">' + table(["base \\ run", *labels],
                           [[labels[i], *(str(v) if v else "" for v in row)]
                            for i, row in enumerate(counts)],
                           caption=f"accuracy bins: {p.base} (rows) to {p.other} (columns)")
                     + "</div>")
    return [_section("evidence", "Answer-level evidence", *parts)]


def likelihood_section(db: sqlite_utils.Database, runs: list[Run]) -> str:
    """log PPL per scorer x generator and the placement shares, with the distributions' figure;
    empty when the file has no scores."""
    from .commands.score import scored_runs
    from .likelihood import evidence

    try:
        scored, own = scored_runs(db, runs)
    except StoreError:
        return ""
    if not scored:
        return ""
    data = evidence(scored, own)
    svg = None
    if figures_missing() is None:
        with figures.style():
            svg = figures.svg_markup(figures.ppl_figure(scored, [r.label for r in runs], own),
                                     "ppl-")

    def q(c: dict[str, Any]) -> str:
        return "-" if c["median"] is None else f"{c['median']:.3f} [{c['q1']:.3f}, {c['q3']:.3f}]"

    matrix = [[c["scorer"], c["run"], str(c["pooled"]["n"]), q(c["pooled"]), q(c["per_problem"])]
              for c in data["matrix"]]
    shares = [[p["scorer"], p["other_run"], *("-" if p["share_below"][k] is None else
                                              f"{p['share_below'][k]:.3f}"
                                              for k in ("all", "correct", "incorrect"))]
              for p in data["placements"]]
    return _section(
        "likelihood", "Likelihood (log PPL under scorer models)",
        _figure(svg, "log PPL of each run's samples under each scorer; the dotted "
                "line is the median of the scorer's own run", figures_missing() or ""),
        table(["scorer", "generator", "samples", "pooled median [q1, q3]",
               "per-problem medians"], matrix, numeric_from=2),
        table(["scorer", "samples of", "all", "correct", "incorrect"], shares,
              caption="share of samples below the median log PPL of the scorer's own run"))


def trajectory_section(db: sqlite_utils.Database, runs: list[Run], grader: str | None) -> str:
    """With three or more runs: the checkpoint trajectory (figure and table), in the order of
    `report --trajectory`; empty otherwise or where the runs have no checkpoint order."""
    from .commands.report_evidence import trajectory_rows
    from .trajectory import trajectory

    if len(runs) < 3:
        return ""
    try:
        tr = trajectory(db, runs, None, grader)
    except ValueError:
        return ""
    svg = None
    if figures_missing() is None:
        with figures.style():
            svg = figures.svg_markup(figures.trajectory_figure(tr), "trajectory-")
    return _section("trajectory", "Checkpoint trajectory",
                    _figure(svg, f"pass@1 and pass@{tr.k} per checkpoint, base ({tr.base}) "
                            "first", figures_missing() or ""),
                    table(*trajectory_rows(tr)))


def figures_missing() -> str | None:
    """Why there are no figures (matplotlib is not installed), or None."""
    try:
        figures.require_matplotlib()
    except figures.FigureError as exc:
        return f"no figures: {exc}"
    return None


def comparison_figures(cmp: Comparison) -> dict[str, str | None]:
    """Inline SVG of the pass@k, coverage and histogram figures (None without matplotlib)."""
    if figures_missing() is not None:
        return {"passk": None, "coverage": None, "histogram": None}
    with figures.style():
        return {
            "passk": figures.svg_markup(figures.passk_figure(cmp), "passk-"),
            "coverage": (figures.svg_markup(figures.coverage_figure(cmp), "coverage-")
                         if cmp.coverage is not None else None),
            "histogram": figures.svg_markup(figures.histogram_figure(cmp), "histogram-"),
        }


def render(db: sqlite_utils.Database, cmp: Comparison, runs: list[Run], ks: list[int],
           ev: Evidence | None, db_path: Path, notes: list[str]) -> str:
    """The page for ``cmp`` (``ks``: the table rows' k) as one HTML string."""
    from .commands.report import _table_rows

    svg = comparison_figures(cmp)
    missing = figures_missing() or ""
    dataset = cmp.runs[0].run.dataset
    try:
        ours = version("reachscope")
    except PackageNotFoundError:
        ours = "unknown"
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"<h1>reachscope report: {escape(dataset)}</h1>",
             f'<p class="meta">database {escape(db_path.name)} ({escape(str(db_path))}), '
             f"runs {escape(', '.join(cmp.keys))}; made {made} by reachscope {escape(ours)}</p>"]
    parts += run_sections(cmp)
    header, rows = _table_rows(cmp, ks)
    passk = [_figure(svg["passk"], "pass@k (unbiased estimator) on a log2 k axis; below, the "
                     "difference of the first two runs with its paired bootstrap interval; "
                     "dotted: the crossover k", missing), table(header, rows)]
    if cmp.crossover_k is not None:
        passk.append(f"<p>crossover k: {cmp.crossover_k} (first k where the sign of "
                     f"pass@k({escape(cmp.keys[1])}) - pass@k({escape(cmp.keys[0])}) flips)</p>")
    elif cmp.coverage is not None:
        passk.append("<p>crossover k: none (the curves do not cross on this k grid)</p>")
    parts.append(_section("passk", "pass@k", *passk))
    if cmp.coverage is not None:
        a, b = cmp.keys[0], cmp.keys[1]
        full = cmp.coverage.as_counts()
        at_k = cmp.coverage_at_k.as_counts() if cmp.coverage_at_k else None
        head = ["solved by", "all samples"] + ([f"first {cmp.coverage_at_k.k}"]
                                               if cmp.coverage_at_k else [])
        names = {"both": "both", "only_a": f"only {a}", "only_b": f"only {b}",
                 "neither": "neither"}
        cov_rows = [[name, str(full[k]), *([str(at_k[k])] if at_k else [])]
                    for k, name in names.items()]
        parts.append(_section(
            "coverage", "Coverage", _figure(svg["coverage"], "problems solved (at least one "
                                            "correct sample) by both runs, one, or neither",
                                            missing),
            table(head, cov_rows, caption=f"over the {len(cmp.shared_problems)} problems "
                                          "both runs have")))
    from .metrics import HISTOGRAM_LABELS

    hist_rows = [[label, *(str(cmp.histograms[k][i]) for k in cmp.keys)]
                 for i, label in enumerate(HISTOGRAM_LABELS)]
    parts.append(_section("histogram", "Accuracy histogram",
                          _figure(svg["histogram"], "problems per accuracy bin c/n", missing),
                          table(["c/n", *cmp.keys], hist_rows)))
    if ev is not None:
        parts += evidence_sections(ev, ks)
    # One grader for every run is what --grader asked for (or what each run's primary is).
    graders = {rc.grader for rc in cmp.runs}
    parts.append(trajectory_section(db, runs, graders.pop() if len(graders) == 1 else None))
    likelihood = likelihood_section(db, runs)
    if likelihood:
        parts.append(likelihood)
    parts.append(solved_by_one(db, cmp))
    all_notes = notes + cmp.notes + (ev.notes if ev is not None else [])
    if missing:
        all_notes.append(missing)
    if all_notes:
        parts.append(_section("notes", "Notes", *(f'<p class="note">{escape(n)}</p>'
                                                  for n in all_notes)))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>reachscope report: {escape(dataset)}</title><style>{CSS}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n")


def write_page(db: sqlite_utils.Database, cmp: Comparison, runs: list[Run], ks: list[int],
               ev: Evidence | None, db_path: Path, notes: list[str], out: Path | None) -> None:
    """Render the page and write it to ``out`` (a new file next to it first, then renamed, so
    a failed write leaves no half page), or to stdout."""
    import os
    import sys

    import click

    page = render(db, cmp, runs, ks, ev, db_path, notes)
    if out is None:
        sys.stdout.write(page)
        return
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise click.ClickException(f"{out}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {out} ({len(page.encode()) // 1024} KiB)", err=True)
