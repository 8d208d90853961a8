"""`reachscope merge`: merge databases sampled apart (one file per node or seed) into one."""

from __future__ import annotations

import os
from pathlib import Path

import click
import sqlite_utils
from reachscope.store import open_db
from reachscope.store.db import StoreError, release_side_files, side_files
from reachscope.store.merge import PAGE, MergeSummary, merge_database

from ..sampling.config import GENERATION_KEYS
from ._common import user_errors

#: The run params two copies of a run must agree on: what defines its samples.
MERGE_KEYS = (*GENERATION_KEYS, "seed_scheme")


@click.command("merge")
@click.argument("sources", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--into", "target", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Database to merge into (created if missing).")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@user_errors
def merge_command(sources: tuple[Path, ...], target: Path, quiet: bool) -> None:
    """Merge the runs of SOURCES into one database, matched on their natural keys.

    Runs match on (dataset, label), samples on (run, problem, sample index), grades on (sample,
    grader), labels on (sample, reviewer). A run in several files must have the same model and
    generation parameters (temperature, top-p, top-k, max tokens, seed, template); its seeds are
    unioned, and it is finished only if every file says so. A sample index stored with another
    text, or a grade of the same grader version with another verdict, is refused. Counts are
    rebuilt by the database's triggers, so they come out exact; merging a file again changes
    nothing.

    Each source is merged in one transaction: a refused source leaves the target as it was
    (sources before it stay merged; merging them again is a no-op). Sources are only read; one
    at an older schema is refused: migrate it by running a writing command on it once
    (`reachscope grade FILE`).

    \b
    Example:
      reachscope merge node0.db node1.db node2.db --into all.db
    """
    out = target.resolve()
    for source in sources:
        if source.resolve() == out or (target.exists() and os.path.samefile(source, target)):
            raise StoreError(f"{source}: cannot merge a database into itself")
    db = open_db(target)
    try:
        for source in sources:
            summary = _merge_one(db, source, target, quiet)
            _print_summary(source, summary)
    finally:
        db.close()


def _merge_one(db: sqlite_utils.Database, source: Path, target: Path,
               quiet: bool) -> MergeSummary:
    existed = side_files(source)
    src = open_db(source, read_only=True)

    def progress(table: str, done: int, total: int) -> None:
        if not quiet and total > PAGE:
            click.echo(f"{source.name}: {table} {done}/{total}", err=True)

    try:
        with db.atomic():
            return merge_database(db, src, (str(source), str(target)), MERGE_KEYS, progress)
    finally:
        src.close()
        release_side_files(source, existed)


def _print_summary(source: Path, summary: MergeSummary) -> None:
    if not summary.changed:
        click.echo(f"{source}: nothing new")
        return
    extra = [f"{n} {what}" for n, what in (
        (summary.problems_added, "problems"), (summary.annotations_added, "labels"),
        (summary.annotations_replaced, "labels replaced"), (summary.scores_added, "scores"),
        (summary.clusters_copied, "answer clusters")) if n]
    click.echo(f"{source}: " + (", ".join(extra) + " added" if extra else "merged"))
    for r in summary.runs:
        parts = [f"{r.samples_added} samples added, {r.samples_skipped} already there"]
        if r.grades_added or r.grades_replaced:
            parts.append(f"{r.grades_added} grades added, {r.grades_replaced} replaced")
        if r.counts_added:
            parts.append(f"{r.counts_added} counts added")
        click.echo(f"  {'new run' if r.created else 'run'} {r.ref}: {'; '.join(parts)}")
