"""Reading and checking input records: one-line ``FILE:LINE: ...`` errors for every bad input.

Hostile inputs are turned into :class:`ImportFormatError` here, before anything reaches the
database: invalid UTF-8, lone surrogates (``\\ud800`` is valid JSON but not storable text),
nesting too deep for the JSON parser, integers SQLite cannot hold, and records that contradict
each other (one problem index with two texts, one sample index twice).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .records import ImportFormatError, SampleFile

#: SQLite stores signed 64-bit integers; a larger value fails at insert time.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

# A JSON escape of a UTF-16 surrogate; only lines that contain one are searched for lone ones.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def read_bytes(path: Path) -> tuple[bytes, str]:
    """The file's bytes and their sha256 (files are remembered by content)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read ({exc.strerror})") from exc
    return data, hashlib.sha256(data).hexdigest()


def iter_jsonl(path: Path, data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for every non-blank line.

    Raises:
        ImportFormatError: a line that is not UTF-8, not JSON, nested too deeply, holds a lone
            surrogate, or is not an object; or a file with no records.
    """
    seen = False
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFormatError(
                f"{where}: invalid UTF-8 at byte {exc.start} of the line"
            ) from exc
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(
                f"{where}: invalid JSON ({exc.msg} at column {exc.colno})"
            ) from exc
        except RecursionError:
            raise ImportFormatError(f"{where}: invalid JSON (nested too deeply)") from None
        except ValueError as exc:  # e.g. an integer literal of more than 4300 digits
            raise ImportFormatError(f"{where}: invalid JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise ImportFormatError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        if _SURROGATE_ESCAPE.search(raw):
            _check_surrogates(obj, where)
        seen = True
        yield lineno, obj
    if not seen:
        raise ImportFormatError(f"{path}: empty file (no JSON records)")


def _check_surrogates(obj: dict[str, Any], where: str) -> None:
    """Refuse a lone UTF-16 surrogate anywhere in the record (it cannot be stored as UTF-8)."""
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:  # iterative: the record may be deep
        name, value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise ImportFormatError(
                    f"{where}: field {name or 'key'} holds a lone surrogate "
                    "(an unpaired \\ud800-\\udfff escape), which is not valid Unicode text"
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    raise ImportFormatError(
                        f"{where}: a field name holds a lone surrogate, which is not valid "
                        "Unicode text"
                    )
                stack.append((f"{name}.{key}" if name else repr(key), item))
        elif isinstance(value, list):
            stack.extend((f"{name}[{i}]", item) for i, item in enumerate(value))


def text_field(value: Any, where: str, name: str, optional: bool = False) -> str | None:
    """A string (numbers are accepted and written as text, ``12.0`` as ``12``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ImportFormatError(
            f"{where}: field {name!r} must be a string, got {type(value).__name__}"
        )
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def int_field(value: Any, where: str, name: str) -> int:
    """An integer that SQLite can store (a string of digits is accepted)."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,25}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ImportFormatError(
            f"{where}: field {name!r} must be an integer, got {type(value).__name__}"
        )
    return check_int_range(value, where, name)


def check_int_range(value: int, where: str, name: str) -> int:
    """``value`` if SQLite can store it, else a one-line error."""
    if not INT_MIN <= value <= INT_MAX:
        raise ImportFormatError(
            f"{where}: field {name!r} is out of range ({_short(value)}; integers must be "
            "between -2^63 and 2^63-1)"
        )
    return value


def _short(value: int) -> str:
    digits = str(value)
    return digits if len(digits) <= 24 else f"{digits[:10]}... ({len(digits)} digits)"


def bool_field(value: Any, where: str, name: str) -> bool:
    """``true``/``false`` or ``1``/``0``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ImportFormatError(f"{where}: {name} must be true/false, got {_repr(value)}")


def _repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def list_field(obj: dict[str, Any], key: str, where: str, n: int | None) -> list[Any] | None:
    """A list field (None when absent or null), of length ``n`` when given."""
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


def scalar_metadata(obj: dict[str, Any], keys: tuple[str, ...], where: str) -> dict[str, Any]:
    """The metadata fields present in ``obj``; each must be a string, a number or a boolean."""
    out: dict[str, Any] = {}
    for key in keys:
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, (str, int, float, bool)):
            raise ImportFormatError(
                f"{where}: field {key!r} must be a string or a number, got {type(value).__name__}"
            )
        out[key] = value
    return out


def check_consistent(files: list[SampleFile]) -> None:
    """Checks across all records of one import (several files pool into one run).

    Raises:
        ImportFormatError: at the later of two conflicting records: a problem index given with
            two different texts (or one text with two indices), a sample index repeated for one
            problem, or some files or lines with upstream verdicts and others without.
    """
    by_idx: dict[int, tuple[str, str]] = {}
    by_hash: dict[str, tuple[int, str]] = {}
    samples_seen: dict[tuple[str, int], str] = {}
    verdicts: tuple[bool, str] | None = None
    for f in files:
        for p in f.problems:
            h = p.problem.hash
            if p.explicit_idx and p.problem.prompt is not None:
                first = by_idx.setdefault(p.problem.idx, (h, p.where))
                if first[0] != h:
                    raise ImportFormatError(
                        f"{p.where}: problem index {p.problem.idx} was given a different "
                        f"text at {first[1]}"
                    )
                seen = by_hash.setdefault(h, (p.problem.idx, p.where))
                if seen[0] != p.problem.idx:
                    raise ImportFormatError(
                        f"{p.where}: this problem text was given index {seen[0]} at {seen[1]}, "
                        f"here {p.problem.idx}"
                    )
            for s in p.samples:
                has = s.correct is not None
                if verdicts is None:
                    verdicts = (has, f"{f.path}:{s.line}")
                elif verdicts[0] != has:
                    raise ImportFormatError(
                        f"{f.path}:{s.line}: {'has' if has else 'has no'} upstream verdict but "
                        f"{verdicts[1]} {'has none' if has else 'has one'} (all samples of one "
                        "import must carry verdicts, or none)"
                    )
                if s.sample_idx is None:
                    continue
                here = f"{f.path}:{s.line}"
                first_at = samples_seen.setdefault((h, s.sample_idx), here)
                if first_at != here:
                    raise ImportFormatError(
                        f"{here}: sample index {s.sample_idx} of this problem was already given "
                        f"at {first_at}"
                    )

