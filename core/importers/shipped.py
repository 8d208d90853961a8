"""Linking imported records to the problems of a shipped dataset (pure: no database).

Completions imported into a shipped code dataset (``--dataset humaneval``) must be graded
against that dataset's tests, so each problem of the file is replaced by the shipped problem it
names: by task id (``task_id``), else by prompt text (whitespace-insensitive), else by index. A
name that matches no shipped problem, or several, is an error. Counts imported into any shipped
dataset name their problems by index and get the shipped text the same way.
"""

from __future__ import annotations

import dataclasses

from reachscope.store import ProblemIn

from ..datasets import BUILTIN_DATASETS, Dataset, load_dataset
from .records import CountsFile, ImportFormatError, ParsedProblem, SampleFile


def shipped_dataset(name: str) -> Dataset | None:
    """The shipped dataset called ``name``, or None when ``name`` is a user's dataset name."""
    if name not in BUILTIN_DATASETS:
        return None
    return load_dataset(name)


def link_samples(files: list[SampleFile], dataset: Dataset | None) -> None:
    """Replace each parsed problem by the shipped problem it names (code datasets only).

    Math datasets are left as the file gives them: their problems are matched to stored ones by
    text when the texts agree, and their files often carry problems of other splits.

    Raises:
        ImportFormatError: ``FILE:LINE: ...`` where a record names no shipped problem or several.
    """
    if dataset is None or dataset.kind != "code":
        return
    by_id: dict[str, ProblemIn] = {}
    by_text: dict[str, list[ProblemIn]] = {}
    for p in dataset.problems:
        task_id = p.metadata.get("task_id")
        if task_id is not None:
            by_id[str(task_id)] = p
        by_text.setdefault(_norm(p.prompt), []).append(p)
    for f in files:
        for parsed in f.problems:
            _link_one(parsed, dataset, by_id, by_text)


def _link_one(parsed: ParsedProblem, dataset: Dataset, by_id: dict[str, ProblemIn],
              by_text: dict[str, list[ProblemIn]]) -> None:
    where, problem = parsed.where, parsed.problem
    if parsed.ref_id is not None:
        found = by_id.get(parsed.ref_id)
        if found is None:
            raise ImportFormatError(
                f"{where}: task id {parsed.ref_id!r} is not a problem of {dataset.name} "
                f"(ids look like {next(iter(by_id), '?')!r})"
            )
    elif problem.prompt is not None:
        matches = by_text.get(_norm(problem.prompt), [])
        if not matches:
            raise ImportFormatError(
                f"{where}: no problem of {dataset.name} has this prompt "
                f"({_excerpt(problem.prompt)}); give each line its task id (a 'task_id' "
                "field, or --id-field)"
            )
        if len(matches) > 1:
            ids = ", ".join(str(m.metadata.get("task_id", m.idx)) for m in matches)
            raise ImportFormatError(
                f"{where}: this prompt matches several problems of {dataset.name} ({ids}); "
                "give each line its task id"
            )
        found = matches[0]
    elif parsed.explicit_idx:
        if not 0 <= problem.idx < len(dataset.problems):
            raise ImportFormatError(
                f"{where}: problem index {problem.idx} is not in {dataset.name} "
                f"(0-{len(dataset.problems) - 1})"
            )
        found = dataset.problems[problem.idx]
    else:  # pragma: no cover - the parsers always give one of the three
        raise ImportFormatError(f"{where}: the record names no problem")
    parsed.problem = dataclasses.replace(found, metadata=dict(found.metadata))
    parsed.explicit_idx = True


def check_named(files: list[SampleFile]) -> None:
    """Outside shipped datasets a problem needs a text or an index; a task id alone is not one.

    Raises:
        ImportFormatError: at the first record that names its problem only by a task id.
    """
    for f in files:
        for parsed in f.problems:
            if parsed.problem.prompt is None and not parsed.explicit_idx:
                raise ImportFormatError(
                    f"{parsed.where}: the problem is named only by its task id "
                    f"{parsed.ref_id!r}; that links to a shipped dataset (e.g. --dataset "
                    "humaneval), otherwise give the problem text or index"
                )


def link_counts(files: list[CountsFile], dataset: Dataset | None) -> None:
    """Attach the shipped problems that counts rows name by index.

    Raises:
        ImportFormatError: at the first row whose index is not in the shipped dataset.
    """
    if dataset is None:
        return
    for f in files:
        for rows in f.models.values():
            for row in rows:
                if not 0 <= row.idx < len(dataset.problems):
                    raise ImportFormatError(
                        f"{row.where}: problem index {row.idx} is not in {dataset.name} "
                        f"(0-{len(dataset.problems) - 1})"
                    )
                f.shipped[row.idx] = dataset.problems[row.idx]


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def _excerpt(text: str) -> str:
    flat = _norm(text)
    return repr(flat if len(flat) <= 50 else flat[:47] + "...")
