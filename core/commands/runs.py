"""`reachscope runs`: list the runs of a database."""

from __future__ import annotations

import json
from pathlib import Path

import click
from reachscope.store.runs import run_state, run_summaries
from rich.table import Table

from ._common import db_argument, open_existing, text_console, user_errors


@click.command("runs")
@db_argument
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@user_errors
def runs_command(db: Path, as_json: bool) -> None:
    """List the runs in DB: label, model, dataset, problems, samples, status.

    A run left ``running`` by a sampler that is gone (killed, or no heartbeat for two minutes)
    shows as ``stale``; rerunning its command resumes it.
    """
    conn = open_existing(db)
    summaries = run_summaries(conn)
    if as_json:
        click.echo(json.dumps([
            {"label": s.run.label, "dataset": s.run.dataset, "model": s.run.model,
             "problems": s.problems, "samples": s.samples, "status": run_state(s.run),
             "stored_status": s.run.status,
             "n_target": s.run.n_target, "primary_grader": s.run.primary_grader,
             "aggregate_only": s.run.aggregate_only}
            for s in summaries
        ], indent=2))
        return
    header = ("label", "dataset", "model", "problems", "samples", "n", "status")
    rows = [
        [s.run.label, s.run.dataset, s.run.model or "-", str(s.problems),
         "aggregate" if s.run.aggregate_only else str(s.samples), str(s.run.n_target or "-"),
         run_state(s.run)]
        for s in summaries
    ]
    # Fit 80 columns: the model name (often a long path) takes what the other columns leave.
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    room = 78 - 2 * (len(header) - 1) - sum(w for i, w in enumerate(widths) if i != 2)
    widths[2] = max(8, min(widths[2], room))
    table = Table(title=f"runs in {db.name}", title_justify="left", box=None,
                  pad_edge=False, header_style="bold")
    for i, h in enumerate(header):
        table.add_column(h, no_wrap=True, justify="right" if i in (3, 4, 5) else "left",
                         max_width=widths[i] if i == 2 else None, overflow="ellipsis")
    for r in rows:
        table.add_row(*r)
    console = text_console()
    if not summaries:
        console.print(f"{db}: no runs yet")
        return
    console.print(table)
