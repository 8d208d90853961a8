"""Importers: the paper's output format, generic sample JSONL, and per-problem counts CSV.

Every import is validated completely before anything is written, then written in one
transaction: a malformed line stops the import with ``FILE:LINE: what is wrong`` and the database
is exactly as before. Files are remembered by content hash per run, so importing the same file
twice changes nothing, and several seed files pool into one run with consecutive sample indices.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils
from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, reads, writes

#: Grader name under which the upstream toolkit's own `score` is stored.
UPSTREAM_GRADER = "upstream"
#: Grader name of counts imported from a CSV (aggregate-only runs).
REPORTED_GRADER = "reported"

#: Problem metadata fields kept from the paper's format when present.
META_FIELDS = ("level", "subject", "type", "unique_id", "id")


class ImportFormatError(ValueError):
    """A malformed input; the message starts with ``FILE:LINE:``."""


@dataclass
class ParsedSample:
    text: str
    correct: bool | None = None
    pred: str | None = None
    finish_reason: str | None = None
    n_tokens: int | None = None
    sample_idx: int | None = None


@dataclass
class ParsedProblem:
    problem: ProblemIn
    samples: list[ParsedSample] = field(default_factory=list)
    where: str = ""


@dataclass
class ImportResult:
    """What one import did."""

    run_label: str
    files_imported: int = 0
    files_skipped: int = 0
    problems: int = 0
    samples_added: int = 0
    correct: int = 0
    messages: list[str] = field(default_factory=list)


def _file_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read ({exc.strerror})") from exc


def iter_jsonl(path: Path, data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for every non-blank line; one-line errors otherwise."""
    seen = False
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFormatError(
                f"{path}:{lineno}: invalid UTF-8 at byte {exc.start} of the line"
            ) from exc
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(f"{path}:{lineno}: invalid JSON ({exc.msg} at column "
                                    f"{exc.colno})") from exc
        if not isinstance(obj, dict):
            raise ImportFormatError(
                f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}"
            )
        seen = True
        yield lineno, obj
    if not seen:
        raise ImportFormatError(f"{path}: empty file (no JSON records)")


def _text(value: Any, where: str, name: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ImportFormatError(
            f"{where}: field {name!r} must be a string, got {type(value).__name__}"
        )
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _int(value: Any, where: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise ImportFormatError(
            f"{where}: field {name!r} must be an integer, got {type(value).__name__}"
        )
    return value


def _list(obj: dict[str, Any], key: str, where: str, n: int | None) -> list[Any] | None:
    if key not in obj or obj[key] is None:
        return None
    value = obj[key]
    if not isinstance(value, list):
        raise ImportFormatError(
            f"{where}: field {key!r} must be a list, got {type(value).__name__}"
        )
    if n is not None and len(value) != n:
        raise ImportFormatError(
            f"{where}: field {key!r} has {len(value)} items but 'code' has {n}"
        )
    return value


def parse_qwen_jsonl(path: Path, data: bytes) -> list[ParsedProblem]:
    """Parse the Qwen2.5-Math / limit-of-RLVR evaluation output (one problem per line)."""
    out: list[ParsedProblem] = []
    for lineno, obj in iter_jsonl(path, data):
        where = f"{path}:{lineno}"
        for key in ("code", "score"):
            if key not in obj:
                raise ImportFormatError(f"{where}: missing field {key!r}")
        question = obj.get("question", obj.get("problem"))
        if question is None:
            raise ImportFormatError(f"{where}: missing field 'question'")
        idx = _int(obj["idx"], where, "idx") if "idx" in obj else len(out)
        code = _list(obj, "code", where, None) or []
        if not code:
            raise ImportFormatError(f"{where}: field 'code' is empty")
        score = _list(obj, "score", where, len(code)) or []
        pred = _list(obj, "pred", where, len(code))
        finish = _list(obj, "finish_reason", where, len(code))
        ref = obj.get("gt", obj.get("answer"))
        metadata = {k: obj[k] for k in META_FIELDS if k in obj and obj[k] is not None}
        problem = ProblemIn(
            idx=idx,
            prompt=_text(question, where, "question"),
            answer=_text(ref, where, "gt", optional=True),
            metadata=metadata,
        )
        samples = []
        for i, text in enumerate(code):
            if not isinstance(text, str):
                raise ImportFormatError(
                    f"{where}: 'code'[{i}] must be a string, got {type(text).__name__}"
                )
            s = score[i]
            if not isinstance(s, bool) and s not in (0, 1):
                raise ImportFormatError(f"{where}: 'score'[{i}] must be true/false, got {s!r}")
            samples.append(
                ParsedSample(
                    text=text,
                    correct=bool(s),
                    pred=None if pred is None else _text(pred[i], where, f"pred[{i}]",
                                                         optional=True),
                    finish_reason=None if finish is None else _text(
                        finish[i], where, f"finish_reason[{i}]", optional=True),
                )
            )
        out.append(ParsedProblem(problem, samples, where))
    return out


@dataclass
class JsonlFields:
    """Field names of a generic one-sample-per-line JSONL file."""

    problem: str = "problem"
    completion: str = "completion"
    index: str | None = "problem_index"
    answer: str | None = "answer"
    sample_index: str | None = None
    correct: str | None = None
    pred: str | None = None
    finish_reason: str | None = None
    n_tokens: str | None = None


def parse_generic_jsonl(path: Path, data: bytes, fields: JsonlFields) -> list[ParsedProblem]:
    """Parse one sample per line; samples of a problem are grouped by problem text/index."""
    groups: dict[str, ParsedProblem] = {}
    for lineno, obj in iter_jsonl(path, data):
        where = f"{path}:{lineno}"
        if fields.completion not in obj:
            raise ImportFormatError(f"{where}: missing field {fields.completion!r}")
        has_prompt = fields.problem in obj
        has_index = fields.index is not None and fields.index in obj
        if not has_prompt and not has_index:
            raise ImportFormatError(
                f"{where}: missing field {fields.problem!r}"
                + (f" (or {fields.index!r})" if fields.index else "")
            )
        prompt = _text(obj[fields.problem], where, fields.problem) if has_prompt else None
        idx = _int(obj[fields.index], where, fields.index) if has_index and fields.index else None
        key = f"t:{prompt}" if prompt is not None else f"i:{idx}"
        if key not in groups:
            answer = None
            if fields.answer and fields.answer in obj:
                answer = _text(obj[fields.answer], where, fields.answer, optional=True)
            groups[key] = ParsedProblem(
                ProblemIn(idx=idx if idx is not None else len(groups), prompt=prompt,
                          answer=answer),
                [],
                where,
            )
        completion = obj[fields.completion]
        if not isinstance(completion, str):
            raise ImportFormatError(
                f"{where}: field {fields.completion!r} must be a string, "
                f"got {type(completion).__name__}"
            )
        sample = ParsedSample(text=completion)
        if fields.correct and fields.correct in obj:
            v = obj[fields.correct]
            if not isinstance(v, bool) and v not in (0, 1):
                raise ImportFormatError(
                    f"{where}: field {fields.correct!r} must be true/false, got {v!r}"
                )
            sample.correct = bool(v)
        if fields.pred and fields.pred in obj:
            sample.pred = _text(obj[fields.pred], where, fields.pred, optional=True)
        if fields.finish_reason and fields.finish_reason in obj:
            sample.finish_reason = _text(obj[fields.finish_reason], where, fields.finish_reason,
                                         optional=True)
        if fields.n_tokens and fields.n_tokens in obj:
            sample.n_tokens = _int(obj[fields.n_tokens], where, fields.n_tokens)
        if fields.sample_index and fields.sample_index in obj:
            sample.sample_idx = _int(obj[fields.sample_index], where, fields.sample_index)
            if sample.sample_idx < 0:
                raise ImportFormatError(f"{where}: field {fields.sample_index!r} must be >= 0")
        groups[key].samples.append(sample)
    for group in groups.values():
        given = [s.sample_idx for s in group.samples if s.sample_idx is not None]
        if given and len(given) != len(group.samples):
            raise ImportFormatError(
                f"{group.where}: some samples of this problem have {fields.sample_index!r} "
                "and some do not"
            )
        if len(set(given)) != len(given):
            raise ImportFormatError(f"{group.where}: repeated sample index within one problem")
    return list(groups.values())


def import_samples(
    db: sqlite_utils.Database,
    files: list[Path],
    dataset: str,
    label: str,
    fmt: str,
    model: str | None = None,
    fields: JsonlFields | None = None,
    grader: str = UPSTREAM_GRADER,
) -> ImportResult:
    """Import sample files (``fmt`` "qwen-jsonl" or "jsonl") into one run, in one transaction.

    Files are pooled in the order given: the samples of the second file follow those of the
    first for each problem (the paper's 4 seeds x 32 = 128). A file already imported into this
    run (same bytes) is skipped.
    """
    result = ImportResult(run_label=label)
    parsed: list[tuple[Path, str, list[ParsedProblem]]] = []
    for path in files:
        data = _file_bytes(path)
        sha = hashlib.sha256(data).hexdigest()
        if fmt == "qwen-jsonl":
            problems = parse_qwen_jsonl(path, data)
        else:
            problems = parse_generic_jsonl(path, data, fields or JsonlFields())
        parsed.append((path, sha, problems))
    has_upstream = any(s.correct is not None for _, _, ps in parsed for p in ps for s in p.samples)
    with db.atomic():
        run_id, created = writes.get_or_create_run(
            db,
            RunSpec(
                label=label,
                dataset=dataset,
                model=model,
                backend="import",
                status="imported",
                primary_grader=grader if has_upstream else None,
                provenance={"imported_from": fmt},
            ),
        )
        done = reads.imported_hashes(db, run_id)
        next_idx = reads.next_sample_index(db, run_id)
        for path, sha, problems in parsed:
            if sha in done:
                result.files_skipped += 1
                result.messages.append(f"{path}: already imported into {dataset}/{label}, skipped")
                continue
            done.add(sha)
            ids = writes.upsert_problems(db, dataset, [p.problem for p in problems])
            samples: list[SampleIn] = []
            verdicts: list[tuple[int, int, ParsedSample]] = []
            seed = _seed_from_name(path)
            for pid, prob in zip(ids, problems):
                base = next_idx.get(pid, 0)
                for j, s in enumerate(prob.samples):
                    sidx = s.sample_idx if s.sample_idx is not None else base + j
                    samples.append(SampleIn(pid, sidx, s.text, s.n_tokens, s.finish_reason, seed))
                    if s.correct is not None:
                        verdicts.append((pid, sidx, s))
                    next_idx[pid] = max(next_idx.get(pid, 0), sidx + 1)
            result.samples_added += writes.write_samples(db, run_id, samples)
            if verdicts:
                sample_ids = _sample_ids(db, run_id)
                writes.write_grades(
                    db,
                    [
                        GradeIn(
                            sample_id=sample_ids[(pid, sidx)],
                            grader=grader,
                            verdict="correct" if s.correct else "incorrect",
                            answer=s.pred,
                            grader_version=f"{fmt} score",
                        )
                        for pid, sidx, s in verdicts
                    ],
                )
                result.correct += sum(1 for _, _, s in verdicts if s.correct)
            writes.record_import(db, run_id, sha, str(path), len(samples))
            result.files_imported += 1
            result.problems = max(result.problems, len(ids))
        if result.files_imported:
            if created:
                writes.update_run(db, run_id, finished_at=writes.now())
            _refresh_import_provenance(db, run_id)
    return result


def _sample_ids(db: sqlite_utils.Database, run_id: int) -> dict[tuple[int, int], int]:
    return {
        (int(p), int(i)): int(sid)
        for sid, p, i in db.execute(
            "SELECT id, problem_id, sample_idx FROM samples WHERE run_id = ?", [run_id]
        )
    }


def _seed_from_name(path: Path) -> int | None:
    m = re.search(r"seed[_-]?(\d+)", path.name)
    return int(m.group(1)) if m else None


def _refresh_import_provenance(db: sqlite_utils.Database, run_id: int) -> None:
    files = [
        {"path": p, "sha256": s, "records": n}
        for p, s, n in db.execute(
            "SELECT path, sha256, records FROM imports WHERE run_id = ? ORDER BY imported_at",
            [run_id],
        )
    ]
    seeds = sorted({s for (s,) in db.execute(
        "SELECT DISTINCT seed FROM samples WHERE run_id = ? AND seed IS NOT NULL", [run_id])})
    n_max = db.execute(
        "SELECT max(c) FROM (SELECT count(*) AS c FROM samples WHERE run_id = ? "
        "GROUP BY problem_id)", [run_id]).fetchone()[0]
    row = db.execute("SELECT provenance FROM runs WHERE id = ?", [run_id]).fetchone()
    prov = json.loads(row[0] or "{}")
    prov["files"] = files
    writes.update_run(db, run_id, provenance=prov, seeds=seeds, n_target=n_max)


def import_counts(db: sqlite_utils.Database, path: Path, dataset: str) -> list[ImportResult]:
    """Import ``problem_index,model,n,correct`` rows: one aggregate-only run per model."""
    data = _file_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFormatError(f"{path}:{line}: invalid UTF-8") from exc
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFormatError(f"{path}: empty file (no header)") from None
    header = [h.strip() for h in header]
    need = ["problem_index", "model", "n", "correct"]
    missing = [h for h in need if h not in header]
    if missing:
        raise ImportFormatError(
            f"{path}:1: header must include {','.join(need)}; missing {', '.join(missing)}"
        )
    col = {h: header.index(h) for h in need}
    per_model: dict[str, dict[int, tuple[int, int]]] = {}
    for row in reader:
        lineno = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}:{lineno}"
        if len(row) != len(header):
            raise ImportFormatError(f"{where}: expected {len(header)} fields, got {len(row)}")
        model = row[col["model"]].strip()
        if not model:
            raise ImportFormatError(f"{where}: empty 'model'")
        try:
            idx, n, c = (int(row[col[h]]) for h in ("problem_index", "n", "correct"))
        except ValueError:
            raise ImportFormatError(
                f"{where}: 'problem_index', 'n' and 'correct' must be integers"
            ) from None
        if n < 1 or c < 0 or c > n:
            raise ImportFormatError(f"{where}: need n >= 1 and 0 <= correct <= n (n={n}, "
                                    f"correct={c})")
        if idx in per_model.setdefault(model, {}):
            raise ImportFormatError(f"{where}: problem {idx} repeated for model {model!r}")
        per_model[model][idx] = (n, c)
    if not per_model:
        raise ImportFormatError(f"{path}: no data rows")
    results = []
    sha = hashlib.sha256(data).hexdigest()
    with db.atomic():
        by_index = writes.problem_ids_by_index(db, dataset)
        for model, rows in per_model.items():
            result = ImportResult(run_label=model)
            run_id, _ = writes.get_or_create_run(
                db,
                RunSpec(label=model, dataset=dataset, model=model, backend="import",
                        status="imported", aggregate_only=True, primary_grader=REPORTED_GRADER,
                        provenance={"imported_from": "counts"}),
            )
            if sha in reads.imported_hashes(db, run_id):
                result.files_skipped = 1
                result.messages.append(f"{path}: already imported into {dataset}/{model}, skipped")
                results.append(result)
                continue
            missing_idx = [i for i in rows if i not in by_index]
            new_ids = writes.upsert_problems(
                db, dataset, [ProblemIn(idx=i, prompt=None) for i in missing_idx]
            )
            by_index.update(zip(missing_idx, new_ids))
            writes.write_counts(
                db, run_id, REPORTED_GRADER, [(by_index[i], n, c) for i, (n, c) in rows.items()]
            )
            writes.record_import(db, run_id, sha, str(path), len(rows))
            _refresh_counts_run(db, run_id)
            result.files_imported = 1
            result.problems = len(rows)
            result.samples_added = 0
            result.correct = sum(c for _, c in rows.values())
            results.append(result)
    return results


def _refresh_counts_run(db: sqlite_utils.Database, run_id: int) -> None:
    n_max = db.execute("SELECT max(n) FROM counts WHERE run_id = ?", [run_id]).fetchone()[0]
    writes.update_run(db, run_id, n_target=n_max, finished_at=writes.now())
