"""`reachscope export`: samples, grades, counts, the report or annotations to parquet, CSV or
JSON lines, streamed page by page (constant memory whatever the run size)."""

from __future__ import annotations

from pathlib import Path

import click
from reachscope.store import StoreError
from reachscope.store.exports import stream_reads
from reachscope.store.grades import resolve_grader
from reachscope.store.runs import list_runs

from .. import export
from ..analysis import choose_runs
from ._common import db_argument, open_existing, split_refs, user_errors


@click.command("export")
@db_argument
@click.option("--what", "what", type=click.Choice(export.WHATS), required=True,
              help="samples: one row per sample (text, tokens, the grader's verdict and answer); "
                   "grades: one per grade of every grader; counts: n and c per (run, problem, "
                   "grader); report: the report in long form (section, run, metric, k, value, "
                   "low, high); annotations: reviewers' labels.")
@click.option("--format", "fmt", type=click.Choice(export.FORMATS),
              help="Output format (default: from the --out suffix: .parquet, .csv, .jsonl).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="File to write (replaced only once the export is complete).")
@click.option("--runs", "run_refs", multiple=True, metavar="RUN",
              help="Runs (label, dataset/label or id); repeat or list several. Default: every "
                   "run (for the report: the runs `reachscope report` picks).")
@click.option("--grader", help="samples: whose verdicts (default: each run's primary grader); "
              "grades, counts: only this grader's (default: all); report: as for report.")
@click.option("--k", "k_spec", help="report: the k grid (1,2,4 or 1-64 or pow2:1024).")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=0), default=1000,
              show_default=True, help="report: bootstrap resamples (0: no intervals).")
@click.option("--seed", type=int, default=0, show_default=True, help="report: bootstrap seed.")
@click.option("--no-text", is_flag=True, help="samples: leave out the completion text.")
@user_errors
def export_command(db: Path, what: str, fmt: str | None, out: Path, run_refs: tuple[str, ...],
                   grader: str | None, k_spec: str | None, resamples: int, seed: int,
                   no_text: bool) -> None:
    """Export a table of DB to a parquet, CSV or JSON-lines file.

    Example: reachscope export runs.db --what samples --runs base,rl --out samples.parquet
    """
    fmt = export.format_for(out, fmt)
    conn = open_existing(db)
    stream_reads(conn)
    refs = split_refs(*run_refs)
    if what == "report":
        from .report import parse_ks

        runs = choose_runs(conn, refs, None)[0]
        table = export.report_table(conn, runs, parse_ks(k_spec), grader, resamples, seed)
    else:
        runs = choose_runs(conn, refs, None)[0] if refs else list_runs(conn)
        if not runs:
            raise StoreError(f"{db}: no runs to export")
        if grader is not None and what in ("grades", "counts"):
            for run in runs:
                resolve_grader(conn, run, grader)  # a grader a run lacks is an error, not 0 rows
        if what == "samples":
            columns = [c for c in export.DEFAULT_SAMPLE_COLUMNS if not (no_text and c == "text")]
            table = export.sample_batches(conn, runs, columns, grader, path=db)
        elif what == "grades":
            table = export.grade_batches(conn, runs, grader)
        elif what == "counts":
            table = export.count_batches(conn, runs, grader)
        else:
            table = export.annotation_batches(conn, runs)
    rows = export.write_table(table, fmt, out)
    click.echo(f"wrote {rows:,} {what} rows of {len(runs)} run(s) to {out} ({fmt})", err=True)
