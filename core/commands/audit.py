"""`reachscope audit`: the samples where two graders disagree."""

from __future__ import annotations

import json
from pathlib import Path

import click
from reachscope.store import reads
from rich.console import Console
from rich.table import Table

from ..grading import audit_run
from ._common import db_argument, open_existing, user_errors

_CELL = 60


def _short(text: str | None) -> str:
    if text is None:
        return "-"
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


@click.command("audit")
@db_argument
@click.option("--run", "run_ref", required=True, metavar="LABEL", help="The run to audit.")
@click.option("--graders", nargs=2, required=True, metavar="A B",
              help="The two graders to compare, e.g. upstream math.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--limit", type=click.IntRange(1), default=None, help="Show at most N samples.")
@user_errors
def audit_command(db: Path, run_ref: str, graders: tuple[str, str], fmt: str,
                  limit: int | None) -> None:
    """List the samples of a run where graders A and B disagree on correctness.

    Each row shows both verdicts and both extracted answers next to the reference.
    """
    conn = open_existing(db)
    run = reads.get_run(conn, run_ref)
    known = {g for g, _ in reads.graders_of_run(conn, run.id)}
    for g in graders:
        if g not in known:
            raise click.ClickException(
                f"run {run.ref}: no grades from grader {g!r} (available: "
                f"{', '.join(sorted(known)) or 'none'})"
            )
    audit = audit_run(conn, run, graders[0], graders[1], limit)
    if fmt == "json":
        click.echo(json.dumps({
            "run": audit.run, "graders": [audit.grader_a, audit.grader_b],
            "graded_by_both": audit.both, "disagreements": len(audit.disagreements),
            "samples": [d.as_dict() for d in audit.disagreements],
        }, indent=2, ensure_ascii=False))
        return
    console = Console()
    a, b = audit.grader_a, audit.grader_b
    console.print(f"{audit.run}: {len(audit.disagreements)} of {audit.both} samples graded by "
                  f"both {a} and {b} disagree")
    if not audit.disagreements:
        return
    table = Table(title_justify="left")
    for col in ("problem", "sample", "reference", f"{a}", f"{a} answer", f"{b}", f"{b} answer"):
        table.add_column(col, overflow="fold")
    for d in audit.disagreements:
        table.add_row(str(d.problem_idx), str(d.sample_idx), _short(d.reference), d.verdict_a,
                      _short(d.answer_a), d.verdict_b, _short(d.answer_b))
    console.print(table)
