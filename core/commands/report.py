"""`reachscope report`: pass@k per run, coverage, crossover and bootstrap for a pair."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import click
from reachscope.store import StoreError
from reachscope.store.counts import counted_problem_metadata
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..analysis import Comparison, choose_runs, compare, display_ks
from ..breakdown import Breakdown, breakdown_of, table_rows
from ..metrics import HISTOGRAM_LABELS, log2_ks
from ._common import (
    db_or_demo,
    open_existing,
    optional_db_argument,
    split_refs,
    text_console,
    user_errors,
)
from .report_evidence import (
    evidence_csv,
    evidence_json,
    evidence_markdown,
    evidence_of,
    print_evidence,
    show_trajectory,
)


def parse_ks(value: str | None) -> list[int] | None:
    """Parse ``1,2,4`` or ``1-16`` or ``pow2:1024`` into a k list."""
    if not value:
        return None
    ks: set[int] = set()
    for part in value.split(","):
        part = part.strip()
        try:
            if part.startswith("pow2:"):
                ks.update(log2_ks(int(part[5:])))
            elif "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                ks.update(range(lo, hi + 1))
            elif part:
                ks.add(int(part))
        except ValueError:
            raise click.BadParameter(
                f"not a k list: {value!r} (use e.g. 1,2,4 or 1-64 or pow2:256)",
                                     param_hint="--k") from None
    if not ks or min(ks) < 1:
        raise click.BadParameter("k values must be >= 1", param_hint="--k")
    return sorted(ks)


def _num(x: float) -> float | None:
    # Full precision: json writes floats as their repr, which reads back as the same float, so
    # a user who subtracts two curves gets no rounding noise. Only tables round.
    return None if x is None or math.isnan(x) else float(x)


def to_json(cmp: Comparison) -> dict[str, Any]:
    """The report as one JSON-able object."""
    out: dict[str, Any] = {
        "dataset": cmp.runs[0].run.dataset,
        "runs": [
            {"label": key, "model": rc.run.model, "dataset": rc.run.dataset,
             "grader": rc.grader, "problems": len(rc.problem_ids), "n_min": rc.n_min,
             "n_max": rc.n_max, "mean_accuracy": _num(rc.mean_accuracy()),
             "status": rc.run.status, "aggregate_only": rc.run.aggregate_only}
            for key, rc in zip(cmp.keys, cmp.runs)
        ],
        "ks": cmp.ks,
        "pass_at_k": {
            key: {str(k): _num(v) for k, v in zip(cmp.ks, curve)}
            for key, curve in cmp.curves.items()
        },
        "coverage": None,
        "coverage_at_k": None,
        "crossover_k": cmp.crossover_k,
        "bootstrap": None,
        "accuracy_histogram": {
            key: dict(zip(HISTOGRAM_LABELS, h)) for key, h in cmp.histograms.items()
        },
        "notes": cmp.notes,
    }
    if len(cmp.keys) >= 2:
        a, b = cmp.keys[0], cmp.keys[1]
        for name, cov in (("coverage", cmp.coverage), ("coverage_at_k", cmp.coverage_at_k)):
            if cov is not None:
                out[name] = {"k": cov.k, "both": len(cov.both),
                             "only": {a: len(cov.only_a), b: len(cov.only_b)},
                             "neither": len(cov.neither)}
        if cmp.bootstrap is not None:
            bs = cmp.bootstrap
            out["bootstrap"] = {
                "difference": f"{b} - {a}", "level": bs.level, "resamples": bs.resamples,
                "diff": {str(k): _num(v) for k, v in zip(bs.ks, bs.diff)},
                "low": {str(k): _num(v) for k, v in zip(bs.ks, bs.low)},
                "high": {str(k): _num(v) for k, v in zip(bs.ks, bs.high)},
            }
    return out


def _table_rows(cmp: Comparison, ks: list[int]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the pass@k table for the k in ``ks``."""
    pair = cmp.bootstrap is not None
    header = ["k", *cmp.keys]
    if pair:
        header += [f"{cmp.keys[1]}-{cmp.keys[0]}", f"{cmp.bootstrap.level:.0%} CI"]  # type: ignore[union-attr]
    pos = {k: i for i, k in enumerate(cmp.ks)}
    rows = []
    for k in ks:
        i = pos[k]
        row = [str(k)] + [_fmt(cmp.curves[key][i]) for key in cmp.keys]
        if pair:
            bs = cmp.bootstrap
            assert bs is not None
            row += [_fmt(bs.diff[i], signed=True),
                    "-" if math.isnan(bs.low[i]) else
                    f"[{bs.low[i]:+.3f}, {bs.high[i]:+.3f}]"]
        rows.append(row)
    return header, rows


def _fmt(x: float, signed: bool = False) -> str:
    if math.isnan(x):
        return "-"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def print_table(cmp: Comparison, ks: list[int], console: Console) -> None:
    runs = Table(title=f"runs on {cmp.runs[0].run.dataset}", title_justify="left")
    for col in ("label", "model", "grader", "problems", "n", "pass@1"):
        runs.add_column(col, overflow="fold",
                        justify="right" if col in ("problems", "n", "pass@1") else "left")
    for key, rc in zip(cmp.keys, cmp.runs):
        model = rc.run.model or "-"
        model = model if len(model) <= 24 else "…" + model[-23:]
        n = str(rc.n_max) if rc.n_min == rc.n_max else f"{rc.n_min}-{rc.n_max}"
        runs.add_row(key, model, rc.grader, str(len(rc.problem_ids)), n,
                     _fmt(rc.mean_accuracy()))
    console.print(runs)
    header, rows = _table_rows(cmp, ks)
    table = Table(title="pass@k (unbiased estimator)", title_justify="left")
    for h in header:
        table.add_column(h, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if cmp.coverage is not None:
        a, b = cmp.keys[0], cmp.keys[1]
        cov = Table(title=f"coverage over {len(cmp.shared_problems)} problems "
                          "(solved = at least one correct sample)", title_justify="left")
        cov.add_column("solved by")
        cov.add_column("all samples", justify="right")
        if cmp.coverage_at_k is not None:
            cov.add_column(f"first {cmp.coverage_at_k.k}", justify="right")
        names = {"both": "both", "only_a": f"only {a}", "only_b": f"only {b}",
                 "neither": "neither"}
        full = cmp.coverage.as_counts()
        at_k = cmp.coverage_at_k.as_counts() if cmp.coverage_at_k else None
        for key, name in names.items():
            cells = [name, str(full[key])]
            if at_k is not None:
                cells.append(str(at_k[key]))
            cov.add_row(*cells)
        console.print(cov)
        cross = (f"crossover k: {cmp.crossover_k} (first k where the sign of "
                 f"pass@k({b}) - pass@k({a}) flips)" if cmp.crossover_k is not None
                 else "crossover k: none (the curves do not cross on this k grid)")
        console.print(cross)
    for note in cmp.notes:
        console.print(Text.assemble(("note:", "yellow"), f" {note}"))


def breakdown_for(db: Any, cmp: Comparison, field: str, ks: list[int]) -> Breakdown:
    """pass@k at ``ks`` and coverage of the compared runs per value of a metadata field."""
    metadata = counted_problem_metadata(db, [rc.run.id for rc in cmp.runs])
    if not any(meta.get(field) is not None for meta in metadata.values()):
        have = sorted({k for meta in metadata.values() for k, v in meta.items() if v is not None})
        raise StoreError(f"no problem of these runs has the metadata field {field!r} "
                         f"(fields: {', '.join(have) or 'none'})")
    return breakdown_of(cmp, metadata, field, ks)


def breakdown_json(result: Breakdown, keys: list[str]) -> dict[str, Any]:
    """A breakdown as a JSON-able object (pass@k at full precision, like the report's)."""
    groups = []
    for g in result.groups:
        entry: dict[str, Any] = {
            "value": g.value, "problems": g.problems, "shared": g.shared,
            "pass_at_k": {key: {str(k): _num(v) for k, v in zip(result.ks, curve)}
                          for key, curve in zip(keys, g.pass_at_k)},
            "coverage": None,
        }
        if g.coverage is not None:
            entry["coverage"] = {"both": len(g.coverage.both),
                                 "only": {keys[0]: len(g.coverage.only_a),
                                          keys[1]: len(g.coverage.only_b)},
                                 "neither": len(g.coverage.neither)}
        groups.append(entry)
    return {"field": result.field, "ks": result.ks, "groups": groups}


def print_breakdown(result: Breakdown, keys: list[str], console: Console) -> None:
    header, rows = table_rows(result, keys)
    # No column rules and one space between columns: ten columns fit 80.
    pair = any(g.coverage is not None for g in result.groups)
    table = Table(title=f"pass@k and coverage by {result.field}", title_justify="left",
                  caption="coverage: problems both runs have samples of; -: no samples"
                  if pair else "-: no samples", caption_justify="left", box=box.SIMPLE_HEAD,
                  padding=0, show_edge=False)
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right",
                         min_width=max(len(h), *(len(r[i]) for r in rows)))
    for row in rows:
        table.add_row(*row)
    console.print(table)


def print_csv(cmp: Comparison) -> None:
    header, rows = _table_rows(cmp, cmp.ks)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = [h.replace("% CI", "_ci") for h in header]
    w.writerow(header)
    for row in rows:
        w.writerow(["" if c == "-" else c for c in row])
    sys.stdout.write(buf.getvalue())


def print_markdown(cmp: Comparison, ks: list[int]) -> None:
    header, rows = _table_rows(cmp, ks)
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    if cmp.coverage is not None:
        a, b = cmp.keys[0], cmp.keys[1]
        c = cmp.coverage.as_counts()
        lines += ["", "| solved by | problems |", "|---|---:|", f"| both | {c['both']} |",
                  f"| only {a} | {c['only_a']} |", f"| only {b} | {c['only_b']} |",
                  f"| neither | {c['neither']} |", "",
                  f"crossover k: {cmp.crossover_k if cmp.crossover_k is not None else 'none'}"]
    lines += [f"note: {n}" for n in cmp.notes]
    click.echo("\n".join(lines))


@click.command("report")
@optional_db_argument
@click.option("--runs", "run_refs", multiple=True, metavar="RUN",
              help="Runs to report (label or dataset/label); repeat or list several. "
                   "Pair statistics compare the first two. Default: all runs of a dataset.")
@click.argument("more_runs", nargs=-1, metavar="[RUN]...")
@click.option("--dataset", help="Report the runs of this dataset.")
@click.option("--k", "k_spec", help="k grid: 1,2,4 or 1-64 or pow2:1024. Default: every k up "
              "to n (tables show powers of two).")
@click.option("--format", "fmt",
              type=click.Choice(["table", "json", "csv", "markdown", "html"]),
              default="table", show_default=True)
@click.option("--grader", help="Grader whose verdicts count (default: each run's primary).")
@click.option("--coverage-k", type=click.IntRange(min=1),
              help="Also compute coverage from each problem's first K samples.")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=0), default=1000,
              show_default=True, help="Bootstrap resamples for the pass@k difference (0: off).")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--by", "by_field", metavar="FIELD",
              help="Also break pass@k and coverage down by a problem metadata field "
                   "(difficulty, level, subject, ...); with --format table or json. The table "
                   "shows k = 1 and the largest n (or the --k grid); json every k.")
@click.option("--evidence/--no-evidence", default=True, show_default=True,
              help="Answer-level evidence: answer entropy and mode, maj@k, pass^k, G-Pass@k, "
                   "support dynamics, dSE, accuracy transitions, truncation and budget parity "
                   "(on the table's k: powers of two, or the --k grid).")
@click.option("--trajectory", "as_trajectory", is_flag=True,
              help="Checkpoint trajectory instead: pass@1, pass@K, dSE, coverage against the "
                   "base and answer entropy per run, in checkpoint order.")
@click.option("--order", "order", multiple=True, metavar="LABEL",
              help="With --trajectory: the run order (the first is the base); repeat or list.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="With --format html: write the page to this file (default: stdout).")
@click.option("--validated", is_flag=True,
              help="Also CoT-pass@k from the review labels (`reachscope review`): lower bound, "
                   "estimate with a bootstrap interval, upper bound, and problems with a valid "
                   "CoT; with --format table, json or markdown.")
@click.option("--reviewer", default=None, help="--validated: this reviewer's labels (a judge: "
              "judge:MODEL); default: every person's, valid only if all say so.")
@user_errors
def report_command(db: Path | None, run_refs: tuple[str, ...], more_runs: tuple[str, ...],
                   dataset: str | None, k_spec: str | None, fmt: str, grader: str | None,
                   coverage_k: int | None, resamples: int, seed: int,
                   by_field: str | None, evidence: bool, as_trajectory: bool,
                   order: tuple[str, ...], out_path: Path | None = None,
                   validated: bool = False, reviewer: str | None = None) -> None:
    """pass@k table per run, coverage table, crossover k and bootstrap interval for a pair.

    DB defaults to the shipped demo database.

    Example: reachscope report runs.db --runs base --runs rl --k pow2:1024
    """
    if by_field and fmt not in ("table", "json"):
        raise click.UsageError("--by works with --format table or json")
    if out_path is not None and fmt != "html" or fmt == "html" and as_trajectory:
        raise click.UsageError("--out works with --format html (and html without --trajectory)")
    if validated and (fmt not in ("table", "json", "markdown") or as_trajectory):
        raise click.UsageError("--validated works with --format table, json or markdown")
    conn = open_existing(db_or_demo(db))
    refs = split_refs(*run_refs, *more_runs)
    runs, note = choose_runs(conn, refs, dataset)
    ks = parse_ks(k_spec)
    if as_trajectory:
        show_trajectory(conn, runs, list(split_refs(*order)),
                        grader, fmt)
        return
    cmp = compare(conn, runs, ks=ks, grader=grader, coverage_k=coverage_k, bootstrap=resamples,
                  seed=seed)
    if note:
        text_console(stderr=True).print(Text(note, style="yellow"))
    if fmt == "json":
        out = to_json(cmp)
        if by_field:
            out["breakdown"] = breakdown_json(breakdown_for(conn, cmp, by_field, cmp.ks), cmp.keys)
        if evidence:
            out["evidence"] = evidence_json(evidence_of(conn, cmp, display_ks(cmp, ks),
                                                        resamples, seed))
        if validated:
            from .report_validated import validated_json, validated_of

            vks = display_ks(cmp, ks)
            out["validated"] = validated_json(
                validated_of(conn, cmp, vks, reviewer, resamples, seed), vks, reviewer)
        # Indented for a person at a terminal; compact into a pipe or file, where the C encoder
        # writes the million-sample report's curves in a third of the time.
        click.echo(json.dumps(out, indent=2 if sys.stdout.isatty() else None))
    elif fmt == "csv":
        print_csv(cmp)
        if evidence:
            click.echo("")
            click.echo(evidence_csv(evidence_of(conn, cmp, display_ks(cmp, ks), resamples,
                                                seed)), nl=False)
    elif fmt == "markdown":
        print_markdown(cmp, display_ks(cmp, ks))
        if evidence:
            table_ks = display_ks(cmp, ks)
            click.echo("\n".join(evidence_markdown(evidence_of(conn, cmp, table_ks, resamples,
                                                                seed), table_ks)))
        if validated:
            from .report_validated import validated_markdown, validated_of

            vks = display_ks(cmp, ks)
            click.echo("\n" + validated_markdown(
                validated_of(conn, cmp, vks, reviewer, resamples, seed), vks, reviewer))
    elif fmt == "html":
        from ..html_report import write_page

        table_ks = display_ks(cmp, ks)
        write_page(conn, cmp, runs, table_ks,
                   evidence_of(conn, cmp, table_ks, resamples, seed) if evidence else None,
                   db_or_demo(db), [note] if note else [], out_path)
    else:
        console = text_console()
        print_table(cmp, display_ks(cmp, ks), console)
        if evidence:
            table_ks = display_ks(cmp, ks)
            print_evidence(evidence_of(conn, cmp, table_ks, resamples, seed), table_ks, console)
        if by_field:
            n_max = max(rc.n_max for rc in cmp.runs)
            table_ks = cmp.ks if ks else sorted({1, n_max} & set(cmp.ks)) or cmp.ks[:1]
            print_breakdown(breakdown_for(conn, cmp, by_field, table_ks), cmp.keys, console)
        if validated:
            from .report_validated import print_validated, validated_of

            vks = display_ks(cmp, ks)
            print_validated(validated_of(conn, cmp, vks, reviewer, resamples, seed), vks,
                            reviewer, console)
