"""Problem sets: the built-in benchmarks and user files (JSONL, CSV, Parquet).

A dataset is a list of :class:`~reachscope.store.ProblemIn` (index, prompt, reference answer,
metadata) plus its kind: ``math`` problems have a reference answer, ``code`` problems carry
HumanEval-style tests in ``metadata["test"]`` and ``metadata["entry_point"]``.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from reachscope.store import ProblemIn

from .graders.extract import gsm8k_marker


class DatasetError(ValueError):
    """A dataset cannot be loaded; the message names the file and the field."""


@dataclass
class Dataset:
    """A loaded problem set.

    Attributes:
        name: ``math500``, ... for built-ins, the file stem for user files.
        kind: ``math`` or ``code`` (which grader applies).
        problems: the problems, in file order.
        source: where they came from (a path, or ``builtin:<file>``).
    """

    name: str
    kind: str
    problems: list[ProblemIn]
    source: str


@dataclass(frozen=True)
class BuiltinDataset:
    """A benchmark shipped with reachscope (see ``core/data/PROVENANCE.md``)."""

    file: str
    kind: str
    description: str


#: Built-in datasets by name.
BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    "math500": BuiltinDataset("math500.jsonl", "math", "MATH500: 500 competition problems"),
    "gsm8k": BuiltinDataset("gsm8k.jsonl", "math", "GSM8K test: 1319 grade-school problems"),
    "aime24": BuiltinDataset("aime24.jsonl", "math", "AIME 2024: 30 problems"),
    "amc23": BuiltinDataset("amc23.jsonl", "math", "AMC 2023: 40 problems"),
    "humaneval": BuiltinDataset("humaneval.jsonl.gz", "code", "HumanEval: 164 Python tasks"),
}


def _number_text(value: Any) -> str:
    """``12.0`` -> ``"12"``; other numbers and strings as written."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _math500(i: int, r: dict[str, Any]) -> ProblemIn:
    return ProblemIn(i, r["problem"], str(r["answer"]),
                     {"level": r.get("level"), "subject": r.get("subject"),
                      "unique_id": r.get("unique_id")})


def _gsm8k(i: int, r: dict[str, Any]) -> ProblemIn:
    return ProblemIn(i, r["question"], gsm8k_marker(r["answer"]),
                     {"level": None, "subject": "grade school math", "solution": r["answer"]})


def _competition(i: int, r: dict[str, Any]) -> ProblemIn:
    return ProblemIn(i, r["problem"], _number_text(r["answer"]),
                     {"level": None, "subject": None, "id": r.get("id"), "url": r.get("url")})


def _humaneval(i: int, r: dict[str, Any]) -> ProblemIn:
    return ProblemIn(i, r["prompt"], None,
                     {"task_id": r["task_id"], "entry_point": r["entry_point"], "test": r["test"],
                      "canonical_solution": r.get("canonical_solution"), "level": None,
                      "subject": None})


_BUILDERS: dict[str, Callable[[int, dict[str, Any]], ProblemIn]] = {
    "math500": _math500, "gsm8k": _gsm8k, "aime24": _competition, "amc23": _competition,
    "humaneval": _humaneval,
}

_PROBLEM_FIELDS = ("problem", "question", "prompt")
_ANSWER_FIELDS = ("answer", "gt", "ground_truth", "target")
_ID_FIELDS = ("id", "idx", "task_id", "unique_id")


def load_dataset(name_or_path: str | Path, problem_field: str | None = None,
                 answer_field: str | None = None, id_field: str | None = None) -> Dataset:
    """Load a built-in dataset by name, or a user file.

    Args:
        name_or_path: a key of :data:`BUILTIN_DATASETS`, or a ``.jsonl``/``.json``, ``.csv`` or
            ``.parquet`` file (optionally ``.gz`` for JSONL).
        problem_field: the column with the problem text (default: the first of ``problem``,
            ``question``, ``prompt``).
        answer_field: the column with the reference answer (default: the first of ``answer``,
            ``gt``, ``ground_truth``, ``target``; none is fine for code datasets).
        id_field: a column kept as ``metadata["id"]`` (default: ``id``, ``idx``... if present).

    Returns:
        The :class:`Dataset`. Files with ``test`` and ``entry_point`` columns are ``code``.

    Raises:
        DatasetError: unknown name, unreadable file, or a missing field (the message names the
            file and the field).
    """
    key = str(name_or_path)
    if key in BUILTIN_DATASETS and not Path(key).exists():
        spec = BUILTIN_DATASETS[key]
        records = _read_jsonl(resources.files("reachscope.core") / "data" / spec.file,
                              spec.file)
        problems = [_BUILDERS[key](i, r) for i, r in enumerate(records)]
        return Dataset(key, spec.kind, problems, f"builtin:{spec.file}")
    path = Path(name_or_path)
    if not path.exists():
        raise DatasetError(
            f"{path}: no such file, and not a built-in dataset "
            f"({', '.join(BUILTIN_DATASETS)})"
        )
    rows = list(_read_user_file(path))
    return _from_rows(path, rows, problem_field, answer_field, id_field)


def _read_jsonl(source: Any, label: str) -> list[dict[str, Any]]:
    name = str(getattr(source, "name", source))
    opener = gzip.open if name.endswith(".gz") else open
    out = []
    with opener(source, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{label}: line {n} is not JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise DatasetError(f"{label}: line {n} is not a JSON object")
            out.append(row)
    return out


def _read_user_file(path: Path) -> Iterator[dict[str, Any]]:
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith((".jsonl", ".jsonl.gz", ".ndjson")) or path.suffix.lower() == ".json":
        if path.suffix.lower() == ".json":
            text = path.read_text(encoding="utf-8").strip()
            if text.startswith("["):
                data = json.loads(text)
                if not all(isinstance(r, dict) for r in data):
                    raise DatasetError(f"{path}: expected a list of JSON objects")
                yield from data
                return
        yield from _read_jsonl(path, str(path))
        return
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            raise DatasetError(f"{path}: unknown format (use .jsonl, .json, .csv or .parquet)")
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds
        raise DatasetError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from exc
    for record in frame.to_dict(orient="records"):
        yield {str(k): v for k, v in record.items()}


def _pick(path: Path, columns: list[str], given: str | None, defaults: tuple[str, ...],
          what: str, required: bool) -> str | None:
    if given is not None:
        if given not in columns:
            raise DatasetError(
                f"{path}: no field {given!r} for the {what} (fields: {', '.join(columns)})"
            )
        return given
    for name in defaults:
        if name in columns:
            return name
    if required:
        raise DatasetError(
            f"{path}: no {what} field (looked for {', '.join(defaults)}; fields: "
            f"{', '.join(columns)}); name it with --{what.replace(' ', '-')}-field"
        )
    return None


def _from_rows(path: Path, rows: list[dict[str, Any]], problem_field: str | None,
               answer_field: str | None, id_field: str | None) -> Dataset:
    if not rows:
        raise DatasetError(f"{path}: no records")
    columns = list(dict.fromkeys(k for r in rows[:100] for k in r))
    kind = "code" if {"test", "entry_point"} <= set(columns) else "math"
    p_field = _pick(path, columns, problem_field, _PROBLEM_FIELDS, "problem", True)
    a_field = _pick(path, columns, answer_field, _ANSWER_FIELDS, "answer", kind == "math")
    i_field = _pick(path, columns, id_field, _ID_FIELDS, "id", False)
    problems = []
    for i, row in enumerate(rows):
        prompt = row.get(p_field)  # type: ignore[arg-type]
        if prompt is None or (isinstance(prompt, float) and math.isnan(prompt)):
            raise DatasetError(f"{path}: record {i + 1} has no {p_field!r}")
        answer = row.get(a_field) if a_field else None
        if isinstance(answer, str) and "####" in answer:  # GSM8K-style worked answer
            answer = gsm8k_marker(answer)
        metadata: dict[str, Any] = {
            k: _plain(v) for k, v in row.items() if k not in (p_field, a_field)
        }
        metadata.setdefault("level", None)
        metadata.setdefault("subject", None)
        if i_field:
            metadata["id"] = _plain(row.get(i_field))
        problems.append(ProblemIn(i, str(prompt),
                                  None if answer is None else _number_text(answer), metadata))
    return Dataset(path.name.split(".")[0], kind, problems, str(path))


def _plain(value: Any) -> Any:
    """A JSON-serialisable version of a cell (numpy scalars and arrays from Parquet)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
