"""`reachscope audit`: the samples where two graders disagree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from reachscope.store import Run
from reachscope.store.grades import graders_of_run
from reachscope.store.runs import get_run
from rich.table import Table

from ..grading import audit_run
from ._common import db_argument, open_existing, text_console, user_errors

_CELL = 60


def _short(text: str | None) -> str:
    if text is None:
        return "-"
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


class _GreedyGraders(click.Command):
    """A command whose ``--graders`` takes every name that follows it (``--graders A B C``).

    Click options take a fixed number of values, so ``--graders A B C`` is rewritten to
    ``--graders A --graders B --graders C`` before parsing; the list ends at the next option
    or at ``--``.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--graders" or arg.startswith("--graders="):
                names = [arg.split("=", 1)[1]] if "=" in arg else []
                i += 1
                while i < len(args) and not args[i].startswith("-"):
                    names.append(args[i])
                    i += 1
                if i < len(args) and args[i] == "--" and names:
                    i += 1
                out.extend(x for name in names or [""] for x in ("--graders", name))
                continue
            out.append(arg)
            i += 1
        return super().parse_args(ctx, out)


@click.command("audit", cls=_GreedyGraders)
@db_argument
@click.option("--run", "run_ref", required=True, metavar="LABEL", help="The run to audit.")
@click.option("--graders", multiple=True, required=True, metavar="A B [C...]",
              help="Two or more graders to compare, e.g. upstream math math-paper (put DB "
                   "before this option).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--limit", type=click.IntRange(1), default=None, help="Show at most N samples.")
@user_errors
def audit_command(db: Path, run_ref: str, graders: tuple[str, ...], fmt: str,
                  limit: int | None) -> None:
    """List the samples of a run where graders disagree on correctness.

    With two graders each row shows both verdicts and both extracted answers next to the
    reference. With more (``--graders upstream math math-paper math-verify``: the grading
    profiles side by side) every pair's count of disagreements is printed first, then each
    sample on which any two of them disagree, with every grader's verdict and answer.
    """
    graders = tuple(dict.fromkeys(g for g in graders if g))
    if len(graders) < 2:
        raise click.ClickException("--graders needs at least two different graders")
    conn = open_existing(db)
    run = get_run(conn, run_ref)
    known = {g for g, _ in graders_of_run(conn, run.id)}
    for g in graders:
        if g not in known:
            raise click.ClickException(
                f"run {run.ref}: no grades from grader {g!r} (available: "
                f"{', '.join(sorted(known)) or 'none'})"
            )
    if len(graders) == 2:
        _two(conn, run, graders[0], graders[1], fmt, limit)
    else:
        _several(conn, run, graders, fmt, limit)


def _two(conn: object, run: Run, a: str, b: str, fmt: str, limit: int | None) -> None:
    audit = audit_run(conn, run, a, b, limit)  # type: ignore[arg-type]
    if fmt == "json":
        click.echo(json.dumps({
            "run": audit.run, "graders": [audit.grader_a, audit.grader_b],
            "graded_by_both": audit.both, "disagreements": len(audit.disagreements),
            "samples": [d.as_dict() for d in audit.disagreements],
        }, indent=2, ensure_ascii=False))
        return
    console = text_console()
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


def _several(conn: object, run: Run, graders: tuple[str, ...], fmt: str,
             limit: int | None) -> None:
    pairs: list[dict[str, Any]] = []
    samples: dict[tuple[int, int], dict[str, Any]] = {}
    for i, a in enumerate(graders):
        for b in graders[i + 1 :]:
            audit = audit_run(conn, run, a, b)  # type: ignore[arg-type]
            pairs.append({"graders": [a, b], "graded_by_both": audit.both,
                          "disagreements": len(audit.disagreements)})
            for d in audit.disagreements:
                row = samples.setdefault((d.problem_idx, d.sample_idx), {
                    "problem_idx": d.problem_idx, "sample_idx": d.sample_idx,
                    "reference": d.reference, "verdicts": {}, "answers": {}})
                row["verdicts"][a], row["answers"][a] = d.verdict_a, d.answer_a
                row["verdicts"][b], row["answers"][b] = d.verdict_b, d.answer_b
    rows = [samples[k] for k in sorted(samples)][:limit]
    if fmt == "json":
        click.echo(json.dumps({"run": run.ref, "graders": list(graders), "pairs": pairs,
                               "disagreeing_samples": len(samples), "samples": rows},
                              indent=2, ensure_ascii=False))
        return
    console = text_console()
    for p in pairs:
        a, b = p["graders"]
        console.print(f"{run.ref}: {p['disagreements']} of {p['graded_by_both']} samples graded "
                      f"by both {a} and {b} disagree")
    console.print(f"{len(samples)} samples on which two of {', '.join(graders)} disagree")
    if not rows:
        return
    table = Table(title_justify="left")
    for col in ("problem", "sample", "reference", *graders):
        table.add_column(col, overflow="fold")
    for row in rows:
        cells = [f"{row['verdicts'].get(g, '-')}: {_short(row['answers'].get(g))}"
                 for g in graders]
        table.add_row(str(row["problem_idx"]), str(row["sample_idx"]), _short(row["reference"]),
                      *cells)
    console.print(table)
