"""`reachscope import`: bring existing results into a database."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click
import sqlite_utils
from reachscope.store import open_db
from rich.text import Text

from ..importers import (
    ImportResult,
    JsonlFields,
    read_counts_files,
    read_sample_files,
    write_counts_files,
    write_sample_files,
)
from ._common import text_console, user_errors

files_argument = click.argument(
    "files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path)
)
db_option = click.option("--db", "db_path", required=True,
                          type=click.Path(dir_okay=False, path_type=Path),
                          help="SQLite database (created if missing; a failed import into a "
                               "new path leaves no file).")
dataset_option = click.option("--dataset", required=True,
                              help="Dataset name the problems belong to (e.g. math500).")


@contextlib.contextmanager
def database_for_import(path: Path) -> Iterator[sqlite_utils.Database]:
    """Open (or create) the database an import writes to; undo the creation if the import fails.

    The files are read and checked before this is entered, so a bad file never creates a
    database; this covers a failure while writing (a sample index already taken, a full disk).
    """
    created = [p for p in (path, *path.parents) if not p.exists()]
    db = open_db(path)
    try:
        yield db
    except BaseException:
        db.close()
        if created:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            for folder in created[1:]:  # the folders open_db made, innermost first
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise
    db.close()


@click.group("import")
def import_group() -> None:
    """Import samples or counts from files into a database."""


def _report(results: list[ImportResult]) -> None:
    console = text_console(stderr=True)
    for r in results:
        for m in r.messages:
            console.print(Text(m, style="yellow"))
        if r.files_imported:
            console.print(
                Text.assemble((r.run_label, "green"),
                              f": {r.files_imported} file(s), {r.problems} problems, "
                              f"{r.samples_added} samples added, {r.correct} correct")
            )


@import_group.command("qwen-jsonl")
@files_argument
@db_option
@dataset_option
@click.option("--label", required=True, help='Short run label, e.g. "base" or "rl".')
@click.option("--model", help="Model name or path, for the record.")
@user_errors
def import_qwen(files: tuple[Path, ...], db_path: Path, dataset: str, label: str,
                model: str | None) -> None:
    """Import the paper's output format (Qwen2.5-Math / ToRA / limit-of-RLVR evaluation toolkit).

    One JSON line per problem with parallel lists `code` and `pred`, and `score` where the
    toolkit graded them (`report` and other fields are ignored; optional `finish_reason`).
    Several FILES (e.g. one per seed) pool into one run; `score` is kept as grades of the grader
    "upstream", `pred` as the upstream answers. Without `score` the samples import ungraded.
    """
    parsed = read_sample_files(files, dataset, "qwen-jsonl")
    with database_for_import(db_path) as db:
        _report([write_sample_files(db, parsed, dataset, label, "qwen-jsonl", model=model)])


@import_group.command("jsonl")
@files_argument
@db_option
@dataset_option
@click.option("--label", required=True, help="Short run label.")
@click.option("--model", help="Model name or path, for the record.")
@click.option("--problem-field", default="problem", show_default=True)
@click.option("--completion-field", default="completion", show_default=True)
@click.option("--index-field", default="problem_index", show_default=True,
              help="Problem index field (used when there is no problem text).")
@click.option("--answer-field", default="answer", show_default=True,
              help="Reference answer field.")
@click.option("--id-field", default="task_id", show_default=True,
              help="Task id field: names a problem of a shipped dataset (HumanEval/0).")
@click.option("--sample-index-field", default=None, help="Sample index field (default: order).")
@click.option("--correct-field", default=None,
              help="Boolean field with an upstream verdict, stored as grader 'upstream'.")
@click.option("--pred-field", default=None, help="Field with the upstream extracted answer.")
@click.option("--finish-reason-field", default=None)
@click.option("--tokens-field", default=None, help="Field with the completion's token count.")
@user_errors
def import_jsonl(files: tuple[Path, ...], db_path: Path, dataset: str, label: str,
                 model: str | None, problem_field: str, completion_field: str, index_field: str,
                 answer_field: str, id_field: str, sample_index_field: str | None,
                 correct_field: str | None, pred_field: str | None, finish_reason_field: str | None,
                 tokens_field: str | None) -> None:
    """Import generic JSONL, one sample per line, with the field names given by options.

    Into a shipped code dataset (`--dataset humaneval`) each line is linked to the shipped
    problem, with its tests, by task id, else by prompt text, else by index; a line that names
    no shipped problem, or several, stops the import.
    """
    fields = JsonlFields(problem=problem_field, completion=completion_field, index=index_field,
                         answer=answer_field, id=id_field, sample_index=sample_index_field,
                         correct=correct_field, pred=pred_field,
                         finish_reason=finish_reason_field, n_tokens=tokens_field)
    parsed = read_sample_files(files, dataset, "jsonl", fields)
    with database_for_import(db_path) as db:
        _report([write_sample_files(db, parsed, dataset, label, "jsonl", model=model)])


@import_group.command("counts")
@files_argument
@db_option
@dataset_option
@user_errors
def import_counts_command(files: tuple[Path, ...], db_path: Path, dataset: str) -> None:
    """Import per-problem counts: CSV with header `problem_index,model,n,correct`.

    Each distinct `model` becomes one aggregate-only run (labelled by the model) whose pass@k
    and coverage are reportable without sample texts. All FILES are checked before any is
    written, and written in one transaction: one bad file imports none. Into a shipped dataset
    `problem_index` names the shipped problem (and must exist there).
    """
    parsed = read_counts_files(files, dataset)
    with database_for_import(db_path) as db:
        _report(write_counts_files(db, parsed, dataset))
