"""`reachscope runs`: list the runs of a database."""

from __future__ import annotations

import json
from pathlib import Path

import click
from reachscope.store import reads
from rich.console import Console
from rich.table import Table

from ._common import db_argument, open_existing, user_errors


@click.command("runs")
@db_argument
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@user_errors
def runs_command(db: Path, as_json: bool) -> None:
    """List the runs in DB: label, model, dataset, problems, samples, status."""
    conn = open_existing(db)
    summaries = reads.run_summaries(conn)
    if as_json:
        click.echo(json.dumps([
            {"label": s.run.label, "dataset": s.run.dataset, "model": s.run.model,
             "problems": s.problems, "samples": s.samples, "status": s.run.status,
             "n_target": s.run.n_target, "primary_grader": s.run.primary_grader,
             "aggregate_only": s.run.aggregate_only}
            for s in summaries
        ], indent=2))
        return
    table = Table(title=f"runs in {db.name}", title_justify="left")
    for col, kw in (("label", {}), ("dataset", {}), ("model", {"overflow": "ellipsis",
                                                                "no_wrap": True, "max_width": 28}),
                    ("problems", {"justify": "right"}), ("samples", {"justify": "right"}),
                    ("n", {"justify": "right"}), ("status", {})):
        table.add_column(col, **kw)  # type: ignore[arg-type]
    for s in summaries:
        model = s.run.model or "-"
        table.add_row(s.run.label, s.run.dataset, model, str(s.problems),
                      "aggregate" if s.run.aggregate_only else str(s.samples),
                      str(s.run.n_target or "-"), s.run.status)
    console = Console()
    if not summaries:
        console.print(f"{db}: no runs yet")
        return
    console.print(table)
