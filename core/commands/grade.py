"""`reachscope grade`: grade (or re-grade) the stored samples of runs."""

from __future__ import annotations

from pathlib import Path

import click
from reachscope.store import Run
from reachscope.store.runs import get_run, list_runs
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..answer_clusters import cluster_pending
from ..graders import GRADER_NAMES, GradingPool, default_workers
from ..graders.registry import MATH_PROFILES, REGISTRY, grader_for_profile
from ..grading import count_to_grade, default_grader, grade_run
from ._common import db_argument, open_existing, text_console, user_errors


@click.command("grade")
@db_argument
@click.option("--run", "run_refs", multiple=True, metavar="LABEL",
              help="Run to grade (label, dataset/label or id); repeat for several. Default: all.")
@click.option("--grader", type=click.Choice(GRADER_NAMES),
              help="Grader (default: code for problems with tests, else the math profile's).")
@click.option("--profile", type=click.Choice(tuple(MATH_PROFILES)), default=None,
              help="Math grading profile: strict (grader 'math', the default), paper (grader "
                   "'math-paper': the Qwen2.5-Math toolkit's rules, to reproduce published "
                   "numbers) or math-verify (grader 'math-verify': its own extraction).")
@click.option("--regrade", is_flag=True, help="Grade every sample again, not only ungraded ones.")
@click.option("--cluster-only", is_flag=True,
              help="Grade nothing; only cluster the stored answers that have no cluster yet "
                   "and cache maj@k where it is missing (grading does this at its end).")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Worker processes (default: the usable CPUs).")
@click.option("--answer-pattern", metavar="REGEX",
              help="math, math-paper: regular expression for the answer (group 'answer' or 1), "
                   "tried first.")
@click.option("--pattern-timeout", type=click.FloatRange(min=0.01), default=None,
              help="Seconds --answer-pattern may search one sample (default 1); a sample that "
                   "overruns is graded 'timeout' with the reason.")
@click.option("--last-number-fallback", is_flag=True,
              help="math: take the last number when no answer is marked (rewards guessing).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None,
              help="Seconds per comparison (math, default 5) or per program (code, default 5).")
@user_errors
def grade_command(db: Path, run_refs: tuple[str, ...], grader: str | None, profile: str | None,
                  regrade: bool, cluster_only: bool, workers: int | None,
                  answer_pattern: str | None,
                  pattern_timeout: float | None, last_number_fallback: bool,
                  timeout: float | None) -> None:
    """Grade the samples stored in DB without regenerating them.

    Only samples without a grade from the chosen grader are graded, so an interrupted run
    resumes where it stopped. Grades of other graders (an import's upstream scores, another
    profile's verdicts) stay: each profile stores its own grader name.

    At the end, the distinct answers of each problem are clustered with the grader's own
    equivalence (``1/2``, ``0.5`` and ``\\frac12`` in one cluster), for the report's answer
    distributions and majority vote, and maj@k is computed and cached for the problems whose
    answers changed.
    """
    conn = open_existing(db, read_only=False)
    runs = [get_run(conn, ref) for ref in run_refs] if run_refs else \
        [r for r in list_runs(conn) if not r.aggregate_only]
    if not runs:
        raise click.ClickException(f"{db}: no runs to grade")
    console = text_console(stderr=True)
    by_grader: dict[str, list[Run]] = {}
    for run in runs:
        if run.aggregate_only:
            raise click.ClickException(f"run {run.ref}: aggregate-only run, no samples to grade")
        by_grader.setdefault(_choose_grader(conn, run, grader, profile), []).append(run)
    for name, grader_runs in by_grader.items():
        options = _grader_options(name, timeout, answer_pattern, pattern_timeout,
                                  last_number_fallback)
        try:
            pool = GradingPool(name, workers=workers or default_workers(), options=options)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        with pool:
            if not cluster_only:
                for run in grader_runs:
                    _grade_one(conn, run, pool, regrade, console)
            done = cluster_pending(conn, pool, [r.id for r in grader_runs])  # type: ignore[arg-type]
            if done.answers:
                console.print(f"clustered {done.answers} answers of {done.problems} problems "
                              f"with {name} into {done.new_clusters} new clusters "
                              f"({done.comparisons} comparisons, {done.seconds:.1f} s)")
            if done.votes is not None and done.votes.problems:
                console.print(f"cached maj@k of {done.votes.problems} problems "
                              f"({done.votes.values} values, {done.votes.seconds:.1f} s)")


def _choose_grader(conn: object, run: Run, grader: str | None,
                   profile: str | None) -> str:
    if profile is None:
        return grader or default_grader(conn, run)  # type: ignore[arg-type]
    target = grader_for_profile(profile)
    if grader is not None and grader != target:
        raise click.ClickException(f"--grader {grader} and --profile {profile} disagree "
                                   f"(profile {profile} is grader {target!r})")
    if grader is None and default_grader(conn, run) != "math":  # type: ignore[arg-type]
        raise click.ClickException(f"run {run.ref}: --profile applies to math runs; this run "
                                   "is graded with the code grader")
    return target


def _grader_options(name: str, timeout: float | None, answer_pattern: str | None,
                    pattern_timeout: float | None,
                    last_number_fallback: bool) -> dict[str, object]:
    accepted = REGISTRY[name].options
    given = {"answer_pattern": answer_pattern, "pattern_timeout": pattern_timeout,
             "last_number_fallback": last_number_fallback or None}
    flags = {"answer_pattern": "--answer-pattern", "pattern_timeout": "--pattern-timeout",
             "last_number_fallback": "--last-number-fallback"}
    for option, value in given.items():
        if value is not None and option not in accepted:
            users = [e.name for e in REGISTRY.values() if option in e.options]
            raise click.ClickException(f"{flags[option]} does not apply to grader {name!r} "
                                       f"(only to: {', '.join(users)})")
    return {"timeout": timeout, **given}


def _grade_one(conn: object, run: Run, pool: GradingPool, regrade: bool,
               console: Console) -> None:
    total = count_to_grade(conn, run.id, pool.grader_name, regrade)  # type: ignore[arg-type]
    if total == 0:
        console.print(f"{run.ref}: nothing to grade with {pool.grader_name} "
                      "(use --regrade to grade again)")
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{run.ref} [{pool.grader_name}]", total=total)
        summary = grade_run(conn, run, pool, regrade=regrade,  # type: ignore[arg-type]
                            progress=lambda n: progress.advance(task, n))
    counts = ", ".join(f"{v} {k}" for k, v in sorted(summary.verdicts.items()))
    rate = summary.graded / summary.seconds if summary.seconds else 0.0
    console.print(f"{summary.run}: graded {summary.graded} samples with {summary.grader} "
                  f"{summary.version} in {summary.seconds:.1f} s ({rate:.0f}/s): {counts}")
