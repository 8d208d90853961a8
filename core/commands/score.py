"""`reachscope score`: the log-likelihood of stored samples under scorer models, and its report."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import sqlite_utils
from reachscope.store import Run
from reachscope.store import scores as store_scores
from reachscope.store.runs import get_run, list_runs
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..sampling import parse_model
from ..scoring.base import ScoringError, make_scorer, scorer_names
from ..scoring.prompts import run_prompt
from ..scoring.run import count_to_score, score_run
from ._common import db_argument, open_existing, text_console, user_errors

if TYPE_CHECKING:
    from ..likelihood import ScoredRun


@click.command("score")
@db_argument
@click.argument("more_runs", nargs=-1, metavar="[RUN]...")
@click.option("--scorer", "scorer_specs", multiple=True, metavar="NAME=PATH",
              help="Scorer model, named (e.g. base=Qwen/Qwen2.5-7B); repeat for several.")
@click.option("--runs", "run_refs", multiple=True, metavar="RUN",
              help="Runs to score (label, dataset/label or id); more may follow as arguments. "
                   "Default: every run with samples.")
@click.option("--backend", type=click.Choice(scorer_names()), default="hf", show_default=True,
              help="hf: batched forward pass with exact token entropy; vllm: prompt_logprobs "
                   "(no entropy); openai: a server's /v1/completions with echo and logprobs "
                   "(vllm serve; --scorer NAME=SERVED_MODEL, no entropy).")
@click.option("--template", metavar="NAME|FILE",
              help="Prompt template of runs that stored none (imports), or to override theirs.")
@click.option("--device", help="hf: cpu, cuda, cuda:N or auto (default).")
@click.option("--dtype", help="Model dtype: auto (default), float32, bfloat16...")
@click.option("--base-url", help="openai: server URL, e.g. http://127.0.0.1:8000/v1.")
@click.option("--api-key", envvar="OPENAI_API_KEY", help="openai: API key (never stored).")
@click.option("--tokenizer", metavar="PATH",
              help="openai: a local tokenizer of the served model (default: the server's "
                   "/tokenize).")
@click.option("--hf-batch-size", type=click.IntRange(1), default=None,
              help="hf: rows per forward pass (default 64).")
@click.option("--batch-size", type=click.IntRange(1), default=512, show_default=True,
              help="Samples per write transaction (a killed run loses at most one).")
@click.option("--report", "show_report", is_flag=True,
              help="Print the likelihood report (after scoring, or alone without --scorer).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Report format.")
@click.option("--grader", help="Grader whose verdicts split the report (default: each run's "
                               "primary).")
@click.option("--first", type=click.IntRange(min=1), default=None,
              help="Score only the first N samples of each problem (sample index < N), e.g. "
                   "a subset of a large run; a later run without it scores the rest.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def score_command(db: Path, more_runs: tuple[str, ...], scorer_specs: tuple[str, ...],
                  run_refs: tuple[str, ...], backend: str, template: str | None,
                  device: str | None, dtype: str | None, base_url: str | None,
                  api_key: str | None, tokenizer: str | None, hf_batch_size: int | None,
                  batch_size: int, show_report: bool, fmt: str, grader: str | None,
                  first: int | None, quiet: bool) -> None:
    """Score the samples stored in DB under scorer models (log-probability of each completion
    given the exact prompt that produced it), or report the scores with --report.

    Only samples without a score from a scorer are scored, so an interrupted run resumes where
    it stopped. Perplexity is per scorer token.
    """
    if not scorer_specs and not show_report:
        raise click.UsageError("give --scorer NAME=PATH (to score) or --report")
    refs = run_refs + more_runs
    conn = open_existing(db, read_only=not scorer_specs)
    runs = [get_run(conn, ref) for ref in refs] if refs else \
        [r for r in list_runs(conn) if not r.aggregate_only]
    for run in runs:
        if run.aggregate_only:
            raise click.ClickException(f"run {run.ref}: aggregate-only run, no samples to score")
    if scorer_specs:
        try:
            _score(conn, runs, scorer_specs, backend, template, batch_size, quiet,
                   {"device": device, "dtype": dtype, "batch_size": hf_batch_size,
                    "base_url": base_url, "api_key": api_key, "tokenizer": tokenizer}, first)
        except ScoringError as exc:
            raise click.ClickException(str(exc)) from exc
    if show_report:
        data = likelihood_report(conn, runs, grader)
        click.echo(json.dumps(data, indent=2) if fmt == "json" else render_report(data))


def _score(conn: sqlite_utils.Database, runs: list[Run], specs: tuple[str, ...], backend: str,
           template: str | None, batch_size: int, quiet: bool,
           options: dict[str, Any], first: int | None) -> None:
    console = text_console(stderr=True)
    recipes = {run.id: run_prompt(run, template) for run in runs}  # fail before loading models
    if backend != "hf":
        if backend == "openai" and not options["base_url"]:
            raise click.UsageError("--backend openai needs --base-url")
        keys = ("base_url", "api_key", "tokenizer") if backend == "openai" else ("dtype",)
        options = {k: options[k] for k in keys}
    for spec in specs:
        model = parse_model(spec)
        scorer = make_scorer(backend, model.path, **options)
        with scorer:
            with conn.atomic():
                scorer_id = store_scores.ensure_scorer(
                    conn, model.label, _as_stored(conn, model.label, model.path), backend,
                    scorer.provenance())
            for run in runs:
                total = count_to_score(conn, run, scorer_id, first)
                if total == 0:
                    console.print(f"{run.ref}: every sample has a {model.label} score")
                    continue
                columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeRemainingColumn())
                with Progress(*columns, console=console, transient=True,
                              disable=quiet) as progress:
                    task = progress.add_task(f"{run.ref} [{model.label}]", total=total)


                    def advance(n: int, t: TaskID = task) -> None:
                        progress.advance(t, n)

                    summary = score_run(conn, run, scorer, model.label, scorer_id,
                                        recipes[run.id], batch_size, progress=advance,
                                        first=first)
                rate = summary.tokens / summary.seconds if summary.seconds else 0.0
                failed = f", {summary.failed} could not be scored" if summary.failed else ""
                console.print(f"{summary.run}: scored {summary.scored} samples under "
                              f"{model.label} ({backend}) in {summary.seconds:.1f} s, "
                              f"{rate:,.0f} tokens/s{failed}")


def _as_stored(conn: sqlite_utils.Database, name: str, path: str) -> str:
    """``path`` as the file already names this scorer's model, if both are the same directory.

    A scorer stored as ``sample_db/models/base`` and given again as an absolute path (or from
    another working directory) is the same model; any other difference is refused later.
    """
    known = {s.name: s.model for s in store_scores.list_scorers(conn)}.get(name)
    if known is None or known == path:
        return path
    same = Path(known).is_dir() and Path(path).is_dir() and \
        Path(known).resolve() == Path(path).resolve()
    return known if same else path


def likelihood_report(conn: sqlite_utils.Database, runs: list[Run],
                      grader: str | None = None) -> dict[str, Any]:
    """The likelihood evidence of ``runs`` under every scorer of the file, as plain data.

    A scorer's own run is the run labelled like the scorer, else the run of the same model.
    """
    from ..likelihood import evidence

    scored, own = scored_runs(conn, runs, grader)
    data = evidence(scored, own)
    data["scorers"] = [{"name": s.name, "model": s.model, "backend": s.backend}
                       for s in store_scores.list_scorers(conn)]
    data["definition"] = ("log PPL = -mean over the scorer's completion tokens of log p(token "
                          "| prompt, earlier tokens); PPL = exp(log PPL)")
    return data


def scored_runs(conn: sqlite_utils.Database, runs: list[Run], grader: str | None = None,
                ) -> tuple[dict[tuple[str, str], ScoredRun], dict[str, str]]:
    """``(scorer, run label) -> ScoredRun`` for every pair with scores, and each scorer's own run.

    A scorer's own run is the run labelled like the scorer, else the run of the same model.
    """
    from reachscope.store.db import StoreError
    from reachscope.store.grades import resolve_grader

    from ..likelihood import ScoredRun

    store_scores.require_scores_table(conn)
    scorers = store_scores.list_scorers(conn)
    scored: dict[tuple[str, str], ScoredRun] = {}
    own: dict[str, str] = {}
    for run in runs:
        try:
            verdicts: str | None = resolve_grader(conn, run, grader)
        except StoreError:
            verdicts = None
        for scorer in scorers:
            rows = list(store_scores.scored_samples(conn, run.id, scorer.id, verdicts))
            if rows:
                scored[(scorer.name, run.label)] = ScoredRun.from_rows(rows)
    for scorer in scorers:
        mine = [r for r in runs if r.label == scorer.name] or \
            [r for r in runs if r.model and _same_model(r.model, scorer.model)]
        if mine:
            own[scorer.name] = mine[0].label
    return scored, own


def _same_model(a: str, b: str) -> bool:
    return a == b or Path(a).resolve() == Path(b).resolve()


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def render_report(data: dict[str, Any]) -> str:
    """The likelihood report as text tables."""
    console = text_console(width=110, record=True, file=io.StringIO())
    matrix = Table(title="log PPL (scorer x generator): median [q1, q3]")
    for col in ("scorer", "generator", "samples", "pooled", "per-problem medians",
                "mean entropy"):
        matrix.add_column(col)
    for c in data["matrix"]:
        p, q = c["pooled"], c["per_problem"]
        matrix.add_row(c["scorer"], c["run"], str(p["n"]),
                       f"{_fmt(p['median'])} [{_fmt(p['q1'])}, {_fmt(p['q3'])}]",
                       (f"{_fmt(q['median'])} [{_fmt(q['q1'])}, {_fmt(q['q3'])}] "
                        f"({q['n']})"),
                       _fmt(c["mean_entropy"]))
    console.print(matrix)
    if data["placements"]:
        table = Table(title="Share of samples below the scorer's median log PPL of its own run")
        for col in ("scorer", "own", "samples of", "all", "correct", "incorrect",
                    "only own solves"):
            table.add_column(col)
        for p in data["placements"]:
            for name, shares in ((p["other_run"], p["share_below"]),
                                 (p["own_run"], p["own_share_below"])):
                table.add_row(p["scorer"], p["own_run"], name, _fmt(shares["all"]),
                              _fmt(shares["correct"]), _fmt(shares["incorrect"]),
                              f"{_fmt(shares['only_own_solves'])} "
                              f"({p['only_own_solves_problems']} problems)")
        console.print(table)
    console.print(data["definition"])
    return console.export_text()
