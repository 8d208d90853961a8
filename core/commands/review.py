"""`reachscope review`: build a reasoning-review queue, show its status, export its labels."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Any, cast

import click
import sqlite_utils
from reachscope.store import StoreError
from reachscope.store.counts import run_counts
from reachscope.store.grades import resolve_grader
from reachscope.store.review import (
    ReviewItem,
    ReviewQueue,
    correct_sample_ids,
    create_queue,
    get_queue,
    queue_items,
    queue_labels,
    queue_progress,
)
from reachscope.store.runs import get_run
from rich.console import Console
from rich.table import Table

from ..judge import FAILURE_LABELS
from ..metrics import log2_ks, pass_at_k_curve
from ..review import (
    REVIEW_LABELS,
    Consensus,
    Unreviewed,
    cohen_kappa,
    cot_counts,
    cot_pass_at_k,
    guessable_problems,
    is_judge,
    judged_valid,
    pick_samples,
    select_problems,
)
from ._common import db_argument, open_existing, text_console, user_errors


@click.command("review")
@db_argument
@click.option("--runs", "run_refs", multiple=True, metavar="RUN",
              help="Runs whose correct samples are reviewed (--runs base rl).")
@click.argument("more_runs", nargs=-1, metavar="[RUN]...")
@click.option("--grader", default=None, help="Grader of the runs (default: each run's primary).")
@click.option("--max-accuracy", type=click.FloatRange(0, 1, min_open=True), default=0.05,
              show_default=True, help="Select problems with accuracy in (0, this] for any run.")
@click.option("--per-problem", type=click.IntRange(1), default=4, show_default=True,
              help="Correct samples per (run, problem) at most.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--guess-run", default=None, metavar="RUN",
              help="A direct-answer run (`reachscope sample --template direct`): problems it "
                   "gets right above --guess-threshold are guessable and left out.")
@click.option("--guess-threshold", type=click.FloatRange(0, 1), default=0.2, show_default=True)
@click.option("--name", default="review", show_default=True, help="The queue's name.")
@click.option("--show-runs", is_flag=True, help="Show each item's run while reviewing "
              "(default: blind review).")
@click.option("--replace", is_flag=True,
              help="Rebuild a queue of this name built with other parameters (labels stay).")
@click.option("--status", is_flag=True,
              help="Progress per reviewer, agreement, CoT-pass@k of the queue.")
@click.option("--reviewer", default=None,
              help="--status: CoT-pass@k from this reviewer's labels (default: all reviewers).")
@click.option("--consensus", type=click.Choice(["all", "any"]), default="all", show_default=True,
              help="--status, several reviewers on a sample: valid when all / any say valid.")
@click.option("--unreviewed", type=click.Choice(["exclude", "invalid"]), default="exclude",
              show_default=True, help="--status: correct samples nobody judged are left out "
              "of CoT-pass@k, or counted as failures (a lower bound).")
@click.option("--export", "export_to", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the queue with its labels to FILE (- for stdout).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="--export format (default: from the file's suffix, else csv).")
@user_errors
def review_command(db: Path, run_refs: tuple[str, ...], more_runs: tuple[str, ...],
                   grader: str | None, max_accuracy: float, per_problem: int, seed: int,
                   guess_run: str | None, guess_threshold: float, name: str, show_runs: bool,
                   replace: bool, status: bool, reviewer: str | None, consensus: str,
                   unreviewed: str, export_to: Path | None, fmt: str | None) -> None:
    """Build a reasoning-review queue: the correct samples of the problems the runs solve rarely.

    A problem is selected when some run's accuracy on it is in (0, --max-accuracy]; up to
    --per-problem correct samples of every run on it are queued, all runs shuffled together
    (seeded). The queue is stored under --name: running the same command again returns it, and
    reviewers label it one after another in the app (v valid, f flawed, g guess, a ambiguous,
    s skip). --status and --export read it back.

    \b
    Example:
      reachscope review runs.db --runs base rl --max-accuracy 0.05 --guess-run direct
      reachscope review runs.db --status
    """
    if status or export_to is not None:
        conn = open_existing(db)
        queue = get_queue(conn, name)
        if export_to is not None:
            _export(conn, queue, export_to, fmt)
        if status:
            _status(conn, queue, reviewer, consensus, unreviewed)
        return
    refs = list(dict.fromkeys(run_refs + more_runs))
    if not refs:
        raise click.UsageError("name the runs to review with --runs (or pass --status)")
    conn = open_existing(db, read_only=False)
    queue, created = _build(conn, refs, grader, max_accuracy, per_problem, seed, guess_run,
                            guess_threshold, name, not show_runs, replace)
    _summary(queue, created)


def _build(conn: sqlite_utils.Database, refs: list[str], grader: str | None,
           max_accuracy: float, per_problem: int, seed: int, guess_ref: str | None,
           guess_threshold: float, name: str, blind: bool,
           replace: bool) -> tuple[ReviewQueue, bool]:
    runs = [get_run(conn, ref) for ref in refs]
    graders = {r.ref: resolve_grader(conn, r, grader) for r in runs}
    counts = {r.ref: run_counts(conn, r.id, graders[r.ref]) for r in runs}
    selected = select_problems(counts, max_accuracy)
    guessable: set[int] = set()
    no_guess_data = 0
    params: dict[str, Any] = {"runs": [r.ref for r in runs], "graders": graders,
                              "max_accuracy": max_accuracy, "per_problem": per_problem,
                              "seed": seed, "guess_run": None, "guess_threshold": None}
    if guess_ref is not None:
        direct = get_run(conn, guess_ref)
        direct_grader = resolve_grader(conn, direct, grader)
        direct_counts = run_counts(conn, direct.id, direct_grader)
        guessable = guessable_problems(direct_counts, guess_threshold, selected)
        no_guess_data = len(selected - direct_counts.keys())
        params.update(guess_run=direct.ref, guess_grader=direct_grader,
                      guess_threshold=guess_threshold)
    kept = sorted(selected - guessable)
    correct = {(r.ref, pid): ids for r in runs
               for pid, ids in correct_sample_ids(conn, r.id, graders[r.ref], kept).items()}
    items = pick_samples(correct, per_problem, seed)
    run_of = {sid: ref for (ref, _), ids in correct.items() for sid in ids}
    per_run = Counter(run_of[sid] for sid in items)
    selection = {"selected": len(selected), "guessable": sorted(guessable),
                 "no_guess_data": no_guess_data, "problems": kept,
                 "items_per_run": {r.ref: per_run.get(r.ref, 0) for r in runs}}
    return create_queue(conn, name, params, items, selection, blind=blind, replace=replace)


def _summary(queue: ReviewQueue, created: bool) -> None:
    p, s = queue.params, queue.selection
    verb = "built" if created else "exists (same parameters; review resumes)"
    click.echo(f"review queue {queue.name!r} {verb}: {queue.size} samples, "
               f"{'blind' if queue.blind else 'runs shown'}")
    click.echo(f"  problems with accuracy in (0, {p['max_accuracy']:g}] for any of "
               f"{', '.join(p['runs'])}: {s['selected']}")
    if p.get("guess_run"):
        click.echo(f"  guessable (direct-answer run {p['guess_run']} correct above "
                   f"{p['guess_threshold']:g}): {len(s['guessable'])} removed"
                   + (f"; {s['no_guess_data']} selected problems have no direct-answer samples"
                      if s["no_guess_data"] else ""))
    click.echo(f"  problems in the queue: {len(s['problems'])}; up to {p['per_problem']} "
               f"correct samples per (run, problem), seed {p['seed']}")
    for ref, n in s["items_per_run"].items():
        click.echo(f"  {ref}: {n} samples")


def _all_items(conn: sqlite_utils.Database, queue: ReviewQueue) -> list[ReviewItem]:
    out: list[ReviewItem] = []
    while page := queue_items(conn, queue.id, out[-1].position if out else -1, 1000):
        out.extend(page)
    return out


def _who(reviewer: str) -> str:
    # Names are text: "judge:m: ..." must not become an emoji (the console has no markup).
    return reviewer or "(anonymous)"


def _status(conn: sqlite_utils.Database, queue: ReviewQueue, reviewer: str | None,
            consensus: str, unreviewed: str) -> None:
    console = text_console(emoji=False)
    items = _all_items(conn, queue)
    by_sample = {i.sample_id: i for i in items}
    notes = queue_labels(conn, queue.id, REVIEW_LABELS)
    labels = {r: {sid: ln[0] for sid, ln in per.items()} for r, per in notes.items()}
    done = queue_progress(conn, queue.id, REVIEW_LABELS)
    console.print(f"review queue {queue.name!r}: {queue.size} samples of "
                  f"{len(queue.selection['problems'])} problems")
    if not done:
        console.print("no labels yet")
    table = Table("reviewer", "labelled", *REVIEW_LABELS, title_justify="left")
    for who, n in done.items():
        tally = Counter(labels[who].values())
        table.add_row(_who(who), f"{n}/{queue.size}", *(str(tally[k]) for k in REVIEW_LABELS))
    if done:
        console.print(table)
    for who, failed in queue_labels(conn, queue.id, FAILURE_LABELS).items():
        tally = Counter(label for label, _ in failed.values())
        console.print(f"{_who(who)}: {len(failed)} items without a label ("
                      + ", ".join(f"{tally[k]} {k}" for k in FAILURE_LABELS if tally[k])
                      + "); `reachscope judge` retries them")
    # People first, then each judge against the people: a judge's agreement with human labels.
    for a, b in sorted(combinations(sorted(labels), 2),
                       key=lambda p: (is_judge(p[0]) + is_judge(p[1]), p)):
        agr = cohen_kappa(labels[a], labels[b])
        kappa = "n/a" if agr.kappa is None else f"{agr.kappa:.3f}"
        console.print(f"{_who(a)} vs {_who(b)}: {agr.n} samples judged by both, "
                      f"{agr.agreed} agree, Cohen's kappa {kappa}")
        for it in sorted((by_sample[sid] for sid in agr.disagreements),
                         key=lambda i: i.position):
            la, lb = agr.disagreements[it.sample_id]
            run = "" if queue.blind else f" ({it.run_label})"  # blind: runs stay hidden
            console.print(f"  #{it.position}: problem {it.problem_idx} sample "
                          f"{it.sample_idx}{run}: {la} / {lb}")
    if reviewer is not None and reviewer not in labels:
        raise StoreError(f"no labels from reviewer {reviewer!r} in queue {queue.name!r}")
    valid = judged_valid(labels, reviewer, cast(Consensus, consensus))
    if reviewer is None and any(is_judge(r) for r in labels):
        console.print("CoT-pass@k below pools people's labels only; --reviewer judge:MODEL "
                      "uses a judge's")
    _cot_table(conn, console, queue, items, valid, unreviewed)


def _cot_table(conn: sqlite_utils.Database, console: Console, queue: ReviewQueue,
               items: list[ReviewItem], valid: dict[int, bool], unreviewed: str) -> None:
    judged: Counter[tuple[int, int]] = Counter()
    good: Counter[tuple[int, int]] = Counter()
    for it in items:
        if it.sample_id in valid:
            judged[it.run_id, it.problem_id] += 1
            good[it.run_id, it.problem_id] += valid[it.sample_id]
    problems = queue.selection["problems"]
    curves: list[tuple[str, list[int], list[int], list[tuple[int, int, int, int]]]] = []
    for ref in queue.params["runs"]:
        run = get_run(conn, ref)
        counts = run_counts(conn, run.id, queue.params["graders"][ref])
        rows = [(n, c, min(judged[run.id, p], c), min(good[run.id, p], judged[run.id, p], c))
                for p in problems if p in counts for n, c in [counts[p]]]
        curves.append((ref, [r[0] for r in rows], [r[1] for r in rows], rows))
    mode = cast(Unreviewed, unreviewed)
    n_min = min((cot_counts(*r, unreviewed=mode)[0] for *_, rows in curves for r in rows),
                default=0)
    if n_min == 0:
        console.print("CoT-pass@k: no problem with samples left")
        return
    ks = log2_ks(n_min)
    table = Table("k", title=f"pass@k / CoT-pass@k (%) over the queue's problems; unreviewed "
                             f"correct samples: {unreviewed}", title_justify="left")
    columns = []
    for ref, n, c, rows in curves:
        table.add_column(f"{ref} pass@k", justify="right")
        table.add_column(f"{ref} CoT", justify="right")
        columns += [pass_at_k_curve(n, c, ks),
                    cot_pass_at_k(rows, ks, mode)]
        console.print(f"{ref}: {sum(r[2] for r in rows)} of {sum(c)} correct samples judged, "
                      f"{sum(r[3] for r in rows)} valid")
    for j, k in enumerate(ks):
        table.add_row(str(k), *(_pct(col[j]) for col in columns))
    console.print(table)


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}"


def _export(conn: sqlite_utils.Database, queue: ReviewQueue, path: Path, fmt: str | None) -> None:
    fmt = fmt or ("jsonl" if path.suffix.lower() in {".jsonl", ".json"} else "csv")
    notes = queue_labels(conn, queue.id, REVIEW_LABELS)
    reviewers = sorted(notes)
    rows = []
    for it in _all_items(conn, queue):
        rows.append({"position": it.position, "sample_id": it.sample_id, "run": it.run_label,
                     "dataset": it.dataset, "problem_idx": it.problem_idx,
                     "sample_idx": it.sample_idx,
                     "labels": {r: {"label": notes[r][it.sample_id][0],
                                    "note": notes[r][it.sample_id][1]}
                                for r in reviewers if it.sample_id in notes[r]}})
    out = io.StringIO()
    if fmt == "jsonl":
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    else:
        head = ["position", "sample_id", "run", "dataset", "problem_idx", "sample_idx"]
        writer = csv.writer(out)
        writer.writerow(head + [f"{kind}:{r}" for r in reviewers for kind in ("label", "note")])
        for row in rows:
            lab = row["labels"]
            writer.writerow([row[h] for h in head] + [lab.get(r, {}).get(kind, "")
                                                      for r in reviewers
                                                      for kind in ("label", "note")])
    if str(path) == "-":
        click.echo(out.getvalue(), nl=False)
    else:
        path.write_text(out.getvalue(), encoding="utf-8")
        click.echo(f"wrote {len(rows)} queue items to {path}", err=True)
