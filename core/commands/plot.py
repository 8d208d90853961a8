"""`reachscope plot`: one publication figure (pass@k, coverage, accuracy histogram, checkpoint
trajectory, perplexity distributions) from the numbers `report` and `score --report` compute."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from reachscope.store import Run

from .. import figures
from ._common import db_or_demo, open_existing, optional_db_argument, split_refs, user_errors

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def build_figure(conn: Any, runs: list[Run], kind: str, *, ks: list[int] | None = None,
                 grader: str | None = None, coverage_k: int | None = None,
                 resamples: int = 1000, seed: int = 0, order: list[str] | None = None,
                 ) -> Figure:
    """The figure of ``kind`` for ``runs``, from the same functions as `report`."""
    if kind == "trajectory":
        from ..trajectory import trajectory

        try:
            return figures.trajectory_figure(trajectory(conn, runs, order or None, grader))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
    if kind == "ppl":
        from .score import scored_runs

        scored, own = scored_runs(conn, runs, grader)
        return figures.ppl_figure(scored, [r.label for r in runs], own)
    from ..analysis import compare

    cmp = compare(conn, runs, ks=ks, grader=grader, coverage_k=coverage_k, bootstrap=resamples,
                  seed=seed)
    if kind == "passk":
        return figures.passk_figure(cmp)
    if kind == "coverage":
        return figures.coverage_figure(cmp)
    return figures.histogram_figure(cmp)


@click.command("plot")
@optional_db_argument
@click.option("--runs", "run_refs", multiple=True, metavar="RUN",
              help="Runs to draw (label or dataset/label); more may follow as arguments. "
                   "Pair figures compare the first two. Default: all runs of a dataset.")
@click.argument("more_runs", nargs=-1, metavar="[RUN]...")
@click.option("--kind", type=click.Choice(figures.KINDS), default="passk", show_default=True,
              help="passk: pass@k on a log2 axis with the bootstrap band of the difference and "
                   "the crossover; coverage: solved by both/one/neither; histogram: problems "
                   "per accuracy bin; trajectory: pass@1 and pass@K per checkpoint; ppl: log "
                   "PPL distributions per scorer (needs `reachscope score`).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file: .pdf, .png or .svg.")
@click.option("--style", "style_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A matplotlib style file applied over reachscope's defaults.")
@click.option("--dataset", help="Draw the runs of this dataset.")
@click.option("--k", "k_spec", help="k grid for passk: 1,2,4 or 1-64 or pow2:1024 "
              "(default: every k up to n).")
@click.option("--grader", help="Grader whose verdicts count (default: each run's primary).")
@click.option("--coverage-k", type=click.IntRange(min=1),
              help="coverage: also bars for each problem's first K samples.")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=0), default=1000,
              show_default=True, help="Bootstrap resamples for the pass@k band (0: no band).")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--order", "order", multiple=True, metavar="LABEL",
              help="trajectory: the run order (the first is the base); repeat or list.")
@user_errors
def plot_command(db: Path | None, run_refs: tuple[str, ...], more_runs: tuple[str, ...],
                 kind: str, out: Path, style_file: Path | None, dataset: str | None,
                 k_spec: str | None, grader: str | None, coverage_k: int | None,
                 resamples: int, seed: int, order: tuple[str, ...]) -> None:
    """Draw one figure of DB's runs to a PDF, PNG or SVG file.

    DB defaults to the shipped demo database.

    Example: reachscope plot runs.db --runs base rl --kind passk --out passk.pdf
    """
    from ..analysis import choose_runs
    from .report import parse_ks

    try:
        figures.require_matplotlib()
        if out.suffix.lower() not in figures.FORMATS:
            raise figures.FigureError(f"{out}: unknown figure format (use .pdf, .png or .svg)")
        conn = open_existing(db_or_demo(db))
        refs = split_refs(*run_refs, *more_runs)
        runs, note = choose_runs(conn, refs, dataset)
        if note:
            click.echo(note, err=True)
        with figures.style(style_file):
            fig = build_figure(conn, runs, kind, ks=parse_ks(k_spec), grader=grader,
                               coverage_k=coverage_k, resamples=resamples, seed=seed,
                               order=list(split_refs(*order)))
            figures.save(fig, out)
    except figures.FigureError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or out}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {out}", err=True)
