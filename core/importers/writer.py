"""The thin part of an import: read and check every file first, then write all in one transaction.

``read_*`` functions touch no database, so a bad file stops an import before a database is even
opened; ``write_*`` functions write inside one ``db.atomic()``, so a conflict found against the
stored data (a sample index already taken) rolls back everything the call wrote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import sqlite_utils
from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn
from reachscope.store import imports as store_imports
from reachscope.store.counts import write_counts
from reachscope.store.grades import write_grades
from reachscope.store.problems import problem_ids_by_index, upsert_problems
from reachscope.store.runs import get_or_create_run, now, update_run
from reachscope.store.samples import next_sample_index, write_samples

from .counts import parse_counts
from .jsonl import JsonlFields, parse_generic_jsonl
from .qwen_jsonl import parse_qwen_jsonl
from .records import (
    REPORTED_GRADER,
    UPSTREAM_GRADER,
    CountsFile,
    CountsRow,
    ImportFormatError,
    ImportResult,
    ParsedSample,
    SampleFile,
)
from .shipped import check_named, link_counts, link_samples, shipped_dataset
from .validation import check_consistent, read_bytes

#: Sample formats by the name the CLI uses.
SAMPLE_FORMATS = ("qwen-jsonl", "jsonl")


def read_sample_files(files: Sequence[Path], dataset: str, fmt: str,
                      fields: JsonlFields | None = None) -> list[SampleFile]:
    """Parse and check sample files for one import; nothing is written.

    Args:
        files: the files, in pooling order.
        dataset: the dataset name (a shipped code dataset links the problems to its tests).
        fmt: ``qwen-jsonl`` or ``jsonl``.
        fields: field names for ``jsonl``.

    Raises:
        ImportFormatError: ``FILE:LINE: ...`` for the first problem found in any file.
    """
    if fmt not in SAMPLE_FORMATS:
        raise ValueError(f"unknown sample format {fmt!r}")
    parsed: list[SampleFile] = []
    seen: set[str] = set()
    for path in files:
        data, sha = read_bytes(path)
        if sha in seen:  # the same bytes twice in one call: imported once
            continue
        seen.add(sha)
        problems = (parse_qwen_jsonl(path, data) if fmt == "qwen-jsonl"
                    else parse_generic_jsonl(path, data, fields or JsonlFields()))
        parsed.append(SampleFile(path, sha, problems))
    link_samples(parsed, shipped_dataset(dataset))
    check_named(parsed)
    check_consistent(parsed)
    return parsed


def write_sample_files(db: sqlite_utils.Database, parsed: Sequence[SampleFile], dataset: str,
                       label: str, fmt: str, model: str | None = None,
                       grader: str = UPSTREAM_GRADER) -> ImportResult:
    """Write parsed sample files into one run, in one transaction.

    Files are pooled in order: for each problem the samples of the second file follow those of
    the first (the paper's 4 seeds x 32 = 128). A file already imported into the run (same
    bytes) is skipped. Upstream verdicts are stored as grades of ``grader``; upstream extracted
    answers (``pred``) as upstream answers, with or without verdicts.

    Raises:
        ImportFormatError: a sample index given by a file is already stored in the run (the
            transaction is rolled back).
    """
    result = ImportResult(run_label=label)
    has_upstream = any(f.has_verdicts for f in parsed)
    with db.atomic():
        run_id, created = get_or_create_run(
            db,
            RunSpec(label=label, dataset=dataset, model=model, backend="import",
                    status="imported", primary_grader=grader if has_upstream else None,
                    provenance={"imported_from": fmt}),
        )
        done = store_imports.imported_hashes(db, run_id)
        next_idx = next_sample_index(db, run_id)
        for f in parsed:
            if f.sha256 in done:
                result.files_skipped += 1
                result.messages.append(
                    f"{f.path}: already imported into {dataset}/{label}, skipped")
                continue
            done.add(f.sha256)
            _write_file(db, run_id, dataset, f, next_idx, grader, fmt, result, f"{dataset}/{label}")
        if result.files_imported:
            summary = store_imports.import_summary(db, run_id)
            provenance = store_imports.run_provenance(db, run_id)
            provenance["files"] = summary["files"]
            fields: dict[str, object] = {"provenance": provenance, "seeds": summary["seeds"],
                                         "n_target": summary["n_max"]}
            if created:
                fields["finished_at"] = now()
            update_run(db, run_id, **fields)
    return result


def _write_file(db: sqlite_utils.Database, run_id: int, dataset: str, f: SampleFile,
                next_idx: dict[int, int], grader: str, fmt: str, result: ImportResult,
                run_ref: str) -> None:
    ids = upsert_problems(db, dataset, [p.problem for p in f.problems])
    stored = store_imports.sample_ids(db, run_id, ids)
    seed = _seed_from_name(f.path)
    samples: list[SampleIn] = []
    keyed: list[tuple[int, int, ParsedSample]] = []
    for pid, prob in zip(ids, f.problems):
        base = next_idx.get(pid, 0)
        for j, s in enumerate(prob.samples):
            sidx = s.sample_idx if s.sample_idx is not None else base + j
            if (pid, sidx) in stored:
                raise ImportFormatError(
                    f"{f.path}:{s.line}: sample index {sidx} of problem {prob.problem.idx} is "
                    f"already stored in run {run_ref} (from another file)"
                )
            samples.append(SampleIn(pid, sidx, s.text, s.n_tokens, s.finish_reason, seed))
            keyed.append((pid, sidx, s))
            next_idx[pid] = max(next_idx.get(pid, 0), sidx + 1)
    result.samples_added += write_samples(db, run_id, samples)
    sample_ids = store_imports.sample_ids(db, run_id, ids)
    grades = [
        GradeIn(sample_id=sample_ids[(pid, sidx)], grader=grader,
                verdict="correct" if s.correct else "incorrect", answer=s.pred,
                grader_version=f"{fmt} score")
        for pid, sidx, s in keyed if s.correct is not None
    ]
    write_grades(db, grades)
    store_imports.write_upstream_answers(
        db, [(sample_ids[(pid, sidx)], s.pred) for pid, sidx, s in keyed if s.pred is not None])
    result.correct += sum(1 for g in grades if g.verdict == "correct")
    store_imports.record_import(db, run_id, f.sha256, str(f.path), len(samples))
    result.files_imported += 1
    result.problems = max(result.problems, len(set(ids)))


def import_samples(
    db: sqlite_utils.Database,
    files: Sequence[Path],
    dataset: str,
    label: str,
    fmt: str,
    model: str | None = None,
    fields: JsonlFields | None = None,
    grader: str = UPSTREAM_GRADER,
) -> ImportResult:
    """Read, check and write sample files (``fmt`` "qwen-jsonl" or "jsonl") into one run."""
    parsed = read_sample_files(files, dataset, fmt, fields)
    return write_sample_files(db, parsed, dataset, label, fmt, model=model, grader=grader)


def read_counts_files(files: Sequence[Path], dataset: str) -> list[CountsFile]:
    """Parse and check counts CSVs for one import; nothing is written.

    Raises:
        ImportFormatError: ``FILE:LINE: ...`` for the first problem in any file, including a
            (model, problem) pair given by two files.
    """
    parsed: list[CountsFile] = []
    seen: set[str] = set()
    first_at: dict[tuple[str, int], str] = {}
    for path in files:
        data, sha = read_bytes(path)
        if sha in seen:
            continue
        seen.add(sha)
        f = parse_counts(path, data, sha)
        for model, rows in f.models.items():
            for row in rows:
                where = first_at.setdefault((model, row.idx), row.where)
                if where != row.where:
                    raise ImportFormatError(
                        f"{row.where}: problem {row.idx} of model {model!r} was already given "
                        f"at {where}"
                    )
        parsed.append(f)
    link_counts(parsed, shipped_dataset(dataset))
    return parsed


def write_counts_files(db: sqlite_utils.Database, parsed: Sequence[CountsFile],
                       dataset: str) -> list[ImportResult]:
    """Write counts files in one transaction: one aggregate-only run per model."""
    results: list[ImportResult] = []
    with db.atomic():
        by_index = problem_ids_by_index(db, dataset)
        for f in parsed:
            if f.shipped:
                shipped = sorted(f.shipped)
                by_index.update(zip(shipped, upsert_problems(
                    db, dataset, [f.shipped[i] for i in shipped])))
            for model, rows in f.models.items():
                results.append(_write_counts_run(db, f, dataset, model, rows, by_index))
    return results


def _write_counts_run(db: sqlite_utils.Database, f: CountsFile, dataset: str, model: str,
                      rows: list[CountsRow], by_index: dict[int, int]) -> ImportResult:
    result = ImportResult(run_label=model)
    run_id, _ = get_or_create_run(
        db,
        RunSpec(label=model, dataset=dataset, model=model, backend="import", status="imported",
                aggregate_only=True, primary_grader=REPORTED_GRADER,
                provenance={"imported_from": "counts"}),
    )
    if f.sha256 in store_imports.imported_hashes(db, run_id):
        result.files_skipped = 1
        result.messages.append(f"{f.path}: already imported into {dataset}/{model}, skipped")
        return result
    missing = [r.idx for r in rows if r.idx not in by_index]
    new_ids = upsert_problems(db, dataset, [ProblemIn(idx=i, prompt=None) for i in missing])
    by_index.update(zip(missing, new_ids))
    write_counts(db, run_id, REPORTED_GRADER, [(by_index[r.idx], r.n, r.c) for r in rows])
    store_imports.record_import(db, run_id, f.sha256, str(f.path), len(rows))
    update_run(db, run_id, n_target=store_imports.max_count_n(db, run_id),
               finished_at=now())
    result.files_imported = 1
    result.problems = len(rows)
    result.correct = sum(r.c for r in rows)
    return result


def import_counts(db: sqlite_utils.Database, files: Path | Sequence[Path],
                  dataset: str) -> list[ImportResult]:
    """Read, check and write counts CSVs (``problem_index,model,n,correct``), all or nothing."""
    paths = [files] if isinstance(files, Path) else list(files)
    return write_counts_files(db, read_counts_files(paths, dataset), dataset)


def _seed_from_name(path: Path) -> int | None:
    m = re.search(r"seed[_-]?(\d+)", path.name)
    return int(m.group(1)) if m else None
