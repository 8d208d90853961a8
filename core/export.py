"""Tables of a database as Arrow record batches, and writers that stream them to parquet, CSV or
JSON lines in constant memory (what `reachscope export` and the Python API's paged reads share).

Every table has a fixed schema, so an empty export still has its columns and a column is never
typed from a first page that happens to be all null. Files are written next to the target under a
temporary name and renamed into place once complete: a failed export leaves no file at the target.
"""

from __future__ import annotations

import json
import math
import os
import queue
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlite_utils
from reachscope.store import Run, StoreError
from reachscope.store import exports as store_exports
from reachscope.store.grades import resolve_grader

from .analysis import compare, display_ks
from .evidence_report import evidence
from .report_rows import comparison_rows, evidence_rows

WHATS = ("samples", "grades", "counts", "report", "annotations")
FORMATS = ("parquet", "csv", "jsonl")
SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl",
            ".ndjson": "jsonl"}

#: Rows per record batch (one parquet row group each): about 6 MB of 1-2 KB traces; larger
#: batches write no faster and raise the exporter's peak memory.
BATCH_ROWS = 4096

_RUN_FIELDS = [pa.field("run", pa.string()), pa.field("dataset", pa.string())]

_ARROW = {"integer": pa.int64(), "real": pa.float64(), "text": pa.string()}
#: The Arrow type of each sample column (from its SQLite storage class).
SAMPLE_TYPES: dict[str, pa.DataType] = {
    c: _ARROW[kind] for c, kind in store_exports.SAMPLE_KINDS.items()}
#: The columns of an exported sample (the API's default too); ``grader`` names whose verdicts.
DEFAULT_SAMPLE_COLUMNS = ("sample_id", "run_id", "problem_id", "problem_idx", "sample_idx",
                          "text", "n_tokens", "finish_reason", "seed", "latency_s",
                          "created_at", "verdict", "answer")

GRADE_SCHEMA = pa.schema([*_RUN_FIELDS, *(
    pa.field(c, pa.int64() if c.endswith(("_id", "_idx")) else pa.string())
    for c in store_exports.GRADE_COLUMNS)])
COUNT_SCHEMA = pa.schema([*_RUN_FIELDS, pa.field("run_id", pa.int64()),
                          pa.field("problem_id", pa.int64()), pa.field("problem_idx", pa.int64()),
                          pa.field("grader", pa.string()), pa.field("n", pa.int64()),
                          pa.field("c", pa.int64()), pa.field("accuracy", pa.float64())])
ANNOTATION_SCHEMA = pa.schema([*_RUN_FIELDS, *(
    pa.field(c, pa.int64() if c.endswith(("_id", "_idx")) else pa.string())
    for c in store_exports.ANNOTATION_COLUMNS)])
#: The report in long form: one statistic per row (``low``/``high``: its interval, if any).
REPORT_SCHEMA = pa.schema([pa.field("section", pa.string()), pa.field("run", pa.string()),
                           pa.field("metric", pa.string()), pa.field("k", pa.int64()),
                           pa.field("value", pa.float64()), pa.field("low", pa.float64()),
                           pa.field("high", pa.float64())])


@dataclass
class Table:
    """A schema and the record batches that follow it (produced lazily, page by page)."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]


def sample_schema(columns: Sequence[str]) -> pa.Schema:
    """The schema of exported samples with ``columns`` (run, dataset and grader first)."""
    return pa.schema([*_RUN_FIELDS, pa.field("grader", pa.string()),
                      *(pa.field(c, SAMPLE_TYPES[c]) for c in columns)])


def _batch(schema: pa.Schema, consts: Sequence[Any], rows: list[tuple[Any, ...]],
           raw_text: bool = False) -> pa.RecordBatch:
    """A record batch of ``rows`` (tuples of the non-constant columns), ``consts`` first.

    With ``raw_text``, string columns of ``rows`` hold UTF-8 bytes (validated by the cast).
    """
    n = len(rows)
    cols = [pa.repeat(pa.scalar(v, schema.field(i).type), n) for i, v in enumerate(consts)]
    columns = list(zip(*rows)) if rows else [()] * (len(schema) - len(consts))
    for i, col in enumerate(columns):
        kind = schema.field(len(consts) + i).type
        if raw_text and kind == pa.string():
            cols.append(pa.array(col, pa.binary()).cast(pa.string()))
        else:
            cols.append(pa.array(col, kind))
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def sample_batches(db: sqlite_utils.Database, runs: Sequence[Run],
                   columns: Sequence[str] = DEFAULT_SAMPLE_COLUMNS, grader: str | None = None,
                   problem_id: int | None = None, batch_rows: int = BATCH_ROWS,
                   path: Path | None = None) -> Table:
    """The samples of ``runs`` (one run after another, by problem and sample index).

    ``verdict`` and ``answer`` are ``grader``'s, else each run's primary grader's; a run nobody
    has graded yet exports them as null (its ``grader`` is null).

    Args:
        path: the database file, for a whole-run stream read by the ADBC driver straight into
            Arrow where it is installed (see `store.exports.sample_arrow_batches`; ``db`` is
            then only read before this returns). Without it, or with ``problem_id``, keyset
            pages of ``db``.

    Raises:
        StoreError: an unknown column, or a grader the run has no grades from.
    """
    bad = [c for c in columns if c not in SAMPLE_TYPES]
    if bad or not columns:
        raise StoreError(f"samples: unknown column(s) {', '.join(bad) or '(none)'} "
                         f"(known: {', '.join(SAMPLE_TYPES)})")
    schema = sample_schema(columns)
    graders = [_grader_or_none(db, r, grader) for r in runs]
    arrow = path is not None and problem_id is None and store_exports.arrow_reader_available()

    def gen() -> Iterator[pa.RecordBatch]:
        for run, chosen in zip(runs, graders):
            consts = [run.label, run.dataset, chosen]
            asked = [c for c in columns if chosen is not None or c not in ("verdict", "answer")]
            if arrow:
                assert path is not None
                for batch in store_exports.sample_arrow_batches(path, run.id, asked, chosen,
                                                                batch_rows):
                    yield _from_arrow(schema, consts, dict(zip(asked, batch.columns)),
                                      batch.num_rows)
                continue
            for page in store_exports.sample_pages(db, run.id, asked, chosen, problem_id,
                                                   batch_rows, raw_text=True):
                if len(asked) < len(columns):  # ungraded run: null verdicts and answers
                    pos = [asked.index(c) if c in asked else None for c in columns]
                    page = [tuple(None if i is None else r[i] for i in pos) for r in page]
                yield _batch(schema, consts, page, raw_text=True)

    return Table(schema, gen())


def _from_arrow(schema: pa.Schema, consts: Sequence[Any], arrays: dict[str, pa.Array],
                n: int) -> pa.RecordBatch:
    """A batch of ``schema``: ``consts`` first, then ``arrays`` by name, cast to the schema's
    types (null where a column was not read)."""
    cols = [pa.repeat(pa.scalar(v, schema.field(i).type), n) for i, v in enumerate(consts)]
    for f in list(schema)[len(consts):]:
        got = arrays.get(f.name)
        cols.append(pa.nulls(n, f.type) if got is None else got.cast(f.type))
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def _grader_or_none(db: sqlite_utils.Database, run: Run, grader: str | None) -> str | None:
    try:
        return resolve_grader(db, run, grader)
    except StoreError:
        if grader is not None:
            raise
        return None  # not graded yet: samples without verdicts


def grade_batches(db: sqlite_utils.Database, runs: Sequence[Run], grader: str | None = None,
                  batch_rows: int = BATCH_ROWS) -> Table:
    """Every grade of ``runs`` (each grader's, or only ``grader``'s)."""
    def gen() -> Iterator[pa.RecordBatch]:
        for run in runs:
            for page in store_exports.grade_pages(db, run.id, grader, batch_rows):
                yield _batch(GRADE_SCHEMA, [run.label, run.dataset], page)

    return Table(GRADE_SCHEMA, gen())


def count_batches(db: sqlite_utils.Database, runs: Sequence[Run], grader: str | None = None,
                  batch_rows: int = BATCH_ROWS) -> Table:
    """n and c per (run, problem, grader) of ``runs``, with accuracy c/n (pass@1)."""
    def gen() -> Iterator[pa.RecordBatch]:
        for run in runs:
            for page in store_exports.count_pages(db, run.id, grader, batch_rows):
                yield _batch(COUNT_SCHEMA, [run.label, run.dataset],
                             [(*r, r[5] / r[4]) for r in page])

    return Table(COUNT_SCHEMA, gen())


def annotation_batches(db: sqlite_utils.Database, runs: Sequence[Run], label: str | None = None,
                       batch_rows: int = BATCH_ROWS) -> Table:
    """The labels on samples of ``runs`` (optionally only ``label``), by annotation id."""
    by_id = {r.id: r for r in runs}

    def gen() -> Iterator[pa.RecordBatch]:
        for page in store_exports.annotation_pages(db, list(by_id), label, batch_rows):
            names = [by_id[r[2]].label for r in page]
            datasets = [by_id[r[2]].dataset for r in page]
            cols = [pa.array(names, pa.string()), pa.array(datasets, pa.string())] + [
                pa.array(col, ANNOTATION_SCHEMA.field(2 + i).type)
                for i, col in enumerate(zip(*page))]
            yield pa.RecordBatch.from_arrays(cols, schema=ANNOTATION_SCHEMA)

    return Table(ANNOTATION_SCHEMA, gen())


def rows_table(schema: pa.Schema, rows: Iterable[tuple[Any, ...]],
               batch_rows: int = BATCH_ROWS) -> Table:
    """A table from plain rows (NaN floats become null), batched."""
    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and math.isnan(v) else v

    def gen() -> Iterator[pa.RecordBatch]:
        page: list[tuple[Any, ...]] = []
        for row in rows:
            page.append(tuple(clean(v) for v in row))
            if len(page) == batch_rows:
                yield _batch(schema, [], page)
                page = []
        if page:
            yield _batch(schema, [], page)

    return Table(schema, gen())


def report_table(db: sqlite_utils.Database, runs: list[Run], ks: Sequence[int] | None = None,
                 grader: str | None = None, bootstrap: int = 1000, seed: int = 0,
                 with_evidence: bool = True) -> Table:
    """The report (pass@k, bootstrap, coverage, crossover, histogram, and the evidence on the
    table's k grid) as one long table, computed as `reachscope report` computes it."""
    cmp = compare(db, runs, ks=list(ks) if ks else None, grader=grader, bootstrap=bootstrap,
                  seed=seed)
    rows = list(comparison_rows(cmp))
    if with_evidence:
        grid = display_ks(cmp, list(ks) if ks else None)
        rows += evidence_rows(evidence(db, cmp.runs, cmp.keys, grid, resamples=bootstrap,
                                       seed=seed))
    return rows_table(REPORT_SCHEMA, rows)


# --- writers ----------------------------------------------------------------------------------


def format_for(out: Path, fmt: str | None) -> str:
    """The format asked for, else the one the file name's suffix says.

    Raises:
        StoreError: no format given and an unknown suffix, or an unknown format.
    """
    if fmt is None:
        fmt = SUFFIXES.get(out.suffix.lower())
        if fmt is None:
            raise StoreError(f"{out}: cannot tell the format from the suffix {out.suffix!r}; "
                             f"pass --format ({', '.join(FORMATS)})")
    if fmt not in FORMATS:
        raise StoreError(f"unknown format {fmt!r} (formats: {', '.join(FORMATS)})")
    return fmt


def write_table(table: Table, fmt: str, out: Path) -> int:
    """Write ``table`` to ``out`` in ``fmt``, batch by batch; returns the rows written.

    The file appears at ``out`` only once complete (written as a temporary file in the same
    directory, then renamed over ``out``); on any failure the temporary file is removed and
    ``out`` is left as it was.

    Raises:
        StoreError: the directory of ``out`` does not exist, or ``out`` is a directory.
    """
    out = Path(out)
    if not out.parent.is_dir():
        raise StoreError(f"{out}: directory {out.parent} does not exist")
    if out.is_dir():
        raise StoreError(f"{out}: is a directory")
    # A fresh name beside the target (same file system, so the rename is atomic), created by
    # the writer itself so the file gets the usual permissions (mkstemp's would be 0600).
    tmp = out.parent / f".{out.name}.{secrets.token_hex(6)}.part"
    try:
        rows = WRITERS[fmt](Table(table.schema, _prefetch(table.batches)), tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows


def _prefetch(batches: Iterator[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """``batches``, produced by a reader thread up to ``depth`` ahead: reading SQLite rows into
    Arrow (Python, under the GIL) overlaps compressing and writing the previous batch (C, GIL
    released). The reader's exception is raised here; a consumer that stops stops the reader."""
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not put(("batch", batch)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            put(("error", exc))
        finally:
            # A consumer that stopped early: close the source here, in its own thread (its
            # cleanup closes a driver connection or a cursor).
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="export-reader", daemon=True)
    reader.start()
    try:
        while True:
            kind, item = box.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _write_parquet(table: Table, path: Path) -> int:
    import pyarrow.parquet as pq

    # The free-text columns (every completion differs) get neither a dictionary nor min/max
    # statistics: both cost time on 1-2 KB values and help no reader. Snappy (parquet's default)
    # wrote these about 1.5x faster than zstd here, for files about 1.4x larger.
    plain = {"text", "note", "detail"}
    coded = [f.name for f in table.schema if f.name not in plain]
    with pq.ParquetWriter(path, table.schema, compression="snappy", use_dictionary=coded,
                          write_statistics=coded) as writer:
        return _drain(writer, table.batches)


def _write_csv(table: Table, path: Path) -> int:
    import pyarrow.csv as pacsv

    with pacsv.CSVWriter(path, table.schema) as writer:
        return _drain(writer, table.batches)


def _drain(writer: Any, batches: Iterator[pa.RecordBatch]) -> int:
    """Write every batch with an Arrow writer; the rows written."""
    rows = 0
    for batch in batches:
        writer.write_batch(batch)
        rows += batch.num_rows
    return rows


def _write_jsonl(table: Table, path: Path) -> int:
    rows = 0
    with open(path, "w", encoding="utf-8") as f:
        for batch in table.batches:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in batch.to_pylist())
            rows += batch.num_rows
    return rows


WRITERS: dict[str, Callable[[Table, Path], int]] = {
    "parquet": _write_parquet, "csv": _write_csv, "jsonl": _write_jsonl}
