"""Per-problem counts: CSV with header ``problem_index,model,n,correct`` (aggregate-only runs)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .records import CountsFile, CountsRow, ImportFormatError
from .validation import check_int_range

#: Columns a counts file must have (others are ignored).
COUNTS_COLUMNS = ("problem_index", "model", "n", "correct")


def parse_counts(path: Path, data: bytes, sha256: str) -> CountsFile:
    """Parse one counts CSV.

    Raises:
        ImportFormatError: ``FILE:LINE: ...`` for the first malformed row, a repeated
            (model, problem) pair, or a file with no data rows.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFormatError(f"{path}:{line}: invalid UTF-8") from exc
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportFormatError(f"{path}: empty file (no header)") from None
    except csv.Error as exc:
        raise ImportFormatError(f"{path}:1: invalid CSV ({exc})") from None
    missing = [h for h in COUNTS_COLUMNS if h not in header]
    if missing:
        raise ImportFormatError(
            f"{path}:1: header must include {','.join(COUNTS_COLUMNS)}; "
            f"missing {', '.join(missing)}"
        )
    col = {h: header.index(h) for h in COUNTS_COLUMNS}
    models: dict[str, list[CountsRow]] = {}
    seen: dict[tuple[str, int], str] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a NUL byte, a field over the csv module's size limit
            raise ImportFormatError(f"{path}:{reader.line_num}: invalid CSV ({exc})") from None
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}:{reader.line_num}"
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
        for name, value in (("problem_index", idx), ("n", n), ("correct", c)):
            check_int_range(value, where, name)
        if n < 1 or c < 0 or c > n:
            raise ImportFormatError(
                f"{where}: need n >= 1 and 0 <= correct <= n (n={n}, correct={c})"
            )
        first = seen.setdefault((model, idx), where)
        if first != where:
            raise ImportFormatError(
                f"{where}: problem {idx} repeated for model {model!r} (first at {first})"
            )
        models.setdefault(model, []).append(CountsRow(idx, n, c, where))
    if not models:
        raise ImportFormatError(f"{path}: no data rows")
    return CountsFile(path, sha256, models)
