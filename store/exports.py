"""Paged reads of whole tables for exports and the Python API (keyset pagination, never a whole
table in memory).

Each reader yields pages of plain tuples, at most ``page`` rows each, in the order of an index
(samples by (problem, sample index), grades by (problem, sample index, grader), counts by
(problem, grader), annotations by id), continuing after the last key seen, so a page costs the
same at the end of a million-row run as at its start. For whole-run exports, samples also come
as Arrow record batches from one streaming query (:func:`sample_arrow_batches`, same rows).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from .db import StoreError

#: Sample columns a caller may ask for -> the SQL that reads them.
SAMPLE_COLUMNS: dict[str, str] = {
    "sample_id": "s.id",
    "run_id": "s.run_id",
    "problem_id": "s.problem_id",
    "problem_idx": "p.idx",
    "sample_idx": "s.sample_idx",
    "text": "s.text",
    "length": "length(s.text)",
    "n_tokens": "s.n_tokens",
    "finish_reason": "s.finish_reason",
    "seed": "s.seed",
    "latency_s": "s.latency_s",
    "created_at": "s.created_at",
    "verdict": "g.verdict",
    "answer": "g.answer",
}

#: The SQLite storage class of each sample column.
SAMPLE_KINDS: dict[str, str] = {
    "text": "text", "finish_reason": "text", "created_at": "text", "verdict": "text",
    "answer": "text", "latency_s": "real"} | {
    c: "integer" for c in ("sample_id", "run_id", "problem_id", "problem_idx", "sample_idx",
                           "length", "n_tokens", "seed")}
_PLACEHOLDER = {"text": "''", "real": "0.5", "integer": "0"}

GRADE_COLUMNS = ("grade_id", "sample_id", "run_id", "problem_id", "problem_idx", "sample_idx",
                 "grader", "grader_version", "verdict", "answer", "detail", "created_at")
COUNT_COLUMNS = ("run_id", "problem_id", "problem_idx", "grader", "n", "c")
ANNOTATION_COLUMNS = ("annotation_id", "sample_id", "run_id", "problem_id", "problem_idx",
                      "sample_idx", "reviewer", "label", "note", "created_at", "updated_at")

Page = list[tuple[Any, ...]]


def stream_reads(db: sqlite_utils.Database, cache_mib: int = 4) -> None:
    """Set up a connection for one pass over whole tables: a small page cache (pages are read
    once, in index order, so the 64 MiB of `open_db` would only add to the exporter's memory)."""
    db.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")


def _fetch(db: sqlite_utils.Database, sql: str, args: list[Any], raw: bool) -> Page:
    if not raw:
        return db.execute(sql, args).fetchall()
    # Text as UTF-8 bytes: decoding 1-2 KB traces into str objects costs more than the rest of
    # the read, and Arrow validates and keeps the bytes as they are.
    conn = db.conn
    before = conn.text_factory
    conn.text_factory = bytes
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.text_factory = before


def _keyset(db: sqlite_utils.Database, sql: str, head: list[Any], key: list[Any],
            tail: list[Any], next_key: Callable[[tuple[Any, ...]], list[Any]], page: int,
            raw: bool = False) -> Iterator[Page]:
    """Pages of ``sql`` (ending in ``LIMIT ?``; arguments head, key, tail, page), each query
    continuing after the key of the previous page's last row."""
    while True:
        rows = _fetch(db, sql, [*head, *key, *tail, page], raw)
        if not rows:
            return
        key = next_key(rows[-1])
        yield rows
        if len(rows) < page:
            return


def _sample_query(columns: Sequence[str], grader: str | None) -> tuple[str, str, list[Any]]:
    """The select list, joins and their leading arguments for ``columns`` of samples."""
    bad = [c for c in columns if c not in SAMPLE_COLUMNS]
    if bad or not columns:
        raise StoreError(f"samples: unknown column(s) {', '.join(bad) or '(none)'} "
                         f"(known: {', '.join(SAMPLE_COLUMNS)})")
    graded = {"verdict", "answer"} & set(columns)
    if graded and grader is None:
        raise StoreError("samples: verdict and answer need a grader")
    joins = " JOIN problems p ON p.id = s.problem_id" if "problem_idx" in columns else ""
    head: list[Any] = []
    if graded:
        joins += " LEFT JOIN grades g ON g.sample_id = s.id AND g.grader = ?"
        head.append(grader)
    return ", ".join(SAMPLE_COLUMNS[c] for c in columns), joins, head


def sample_pages(db: sqlite_utils.Database, run_id: int, columns: Sequence[str],
                 grader: str | None = None, problem_id: int | None = None,
                 page: int = 10_000, raw_text: bool = False) -> Iterator[Page]:
    """A run's samples (optionally one problem's), ``columns`` of :data:`SAMPLE_COLUMNS` in that
    order; ``verdict`` and ``answer`` are ``grader``'s (None where it has not graded a sample).

    With ``raw_text``, text columns come as UTF-8 ``bytes`` (for Arrow; the connection's text
    factory is switched for each page's fetch, so do not share it with another thread meanwhile).

    Raises:
        StoreError: an unknown column, or a verdict asked for without a grader.
    """
    select, joins, head = _sample_query(columns, grader)
    # The key (problem_id, sample_idx) is read alongside where it is not among the columns.
    extra = [c for c in ("problem_id", "sample_idx") if c not in columns]
    select += "".join(f", s.{c}" for c in extra)
    names = [*columns, *extra]
    at_problem, at_index = names.index("problem_id"), names.index("sample_idx")
    sql = f"SELECT {select} FROM samples s{joins} WHERE s.run_id = ? "
    if problem_id is None:
        sql += ("AND (s.problem_id, s.sample_idx) > (?, ?) ORDER BY s.problem_id, s.sample_idx "
                "LIMIT ?")
        key: list[Any] = [-1, -1]
    else:
        sql += "AND s.problem_id = ? AND s.sample_idx > ? ORDER BY s.sample_idx LIMIT ?"
        key = [problem_id, -1]
    width = len(columns)
    for rows in _keyset(db, sql, [*head, run_id], key, [],
                        lambda last: [last[at_problem], last[at_index]], page, raw_text):
        yield [r[:width] for r in rows] if extra else rows


def arrow_reader_available() -> bool:
    """Whether the ADBC SQLite driver (a reader straight into Arrow) is installed."""
    return importlib.util.find_spec("adbc_driver_sqlite") is not None


def sample_arrow_batches(path: str | Path, run_id: int, columns: Sequence[str],
                         grader: str | None = None, batch_rows: int = 4096) -> Iterator[Any]:
    """A run's samples as Arrow record batches, read by the ADBC SQLite driver in one streaming
    query (the same rows, order and columns as :func:`sample_pages`; no Python object per value,
    several times faster on 1-2 KB traces).

    The file is opened read-only by the driver's own SQLite. Keep other connections of this
    process to the file idle meanwhile (no open transaction): POSIX locks are per process, and
    two SQLite libraries in one process release each other's locks when one closes a file.

    Raises:
        StoreError: an unknown column, or a verdict asked for without a grader.
    """
    import adbc_driver_manager
    import adbc_driver_sqlite.dbapi

    select, joins, head = _sample_query(columns, grader)
    # The driver infers each column's type from its first batch, where a column that starts
    # with nulls would become int64 and then fail on text: a first row of typed placeholders
    # (dropped below) fixes every type. UNION ALL keeps it first, then the ordered rows.
    typed = ", ".join(f"{_PLACEHOLDER[SAMPLE_KINDS[c]]} AS c{i}" for i, c in enumerate(columns))
    sql = (f"SELECT {typed} UNION ALL SELECT * FROM (SELECT {select} FROM samples s{joins} "
           "WHERE s.run_id = ? ORDER BY s.problem_id, s.sample_idx)")
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    try:
        with adbc_driver_sqlite.dbapi.connect(uri) as conn, conn.cursor() as cur:
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
            cur.execute(sql, [*head, run_id])
            first = True
            for batch in cur.fetch_record_batch():
                if first:
                    batch, first = batch.slice(1), False
                if batch.num_rows:
                    yield batch
    except adbc_driver_manager.Error as exc:
        raise StoreError(f"{path}: cannot read samples ({exc})") from exc


def grade_pages(db: sqlite_utils.Database, run_id: int, grader: str | None = None,
                page: int = 10_000) -> Iterator[Page]:
    """A run's grades (every grader's, or one's), :data:`GRADE_COLUMNS` per row."""
    sql = ("SELECT g.id, s.id, s.run_id, s.problem_id, p.idx, s.sample_idx, g.grader, "
           "g.grader_version, g.verdict, g.answer, g.detail, g.created_at "
           "FROM samples s JOIN grades g ON g.sample_id = s.id "
           "JOIN problems p ON p.id = s.problem_id "
           "WHERE s.run_id = ? AND (s.problem_id, s.sample_idx, g.grader) > (?, ?, ?)")
    if grader is not None:
        sql += " AND g.grader = ?"
    sql += " ORDER BY s.problem_id, s.sample_idx, g.grader LIMIT ?"
    yield from _keyset(db, sql, [run_id], [-1, -1, ""], [grader] if grader else [],
                       lambda last: [last[3], last[5], last[6]], page)


def count_pages(db: sqlite_utils.Database, run_id: int, grader: str | None = None,
                page: int = 10_000) -> Iterator[Page]:
    """A run's (n, c) per problem and grader (every grader's, or one's), :data:`COUNT_COLUMNS`."""
    sql = ("SELECT c.run_id, c.problem_id, p.idx, c.grader, c.n, c.c FROM counts c "
           "JOIN problems p ON p.id = c.problem_id "
           "WHERE c.run_id = ? AND c.n > 0 AND (c.problem_id, c.grader) > (?, ?)")
    if grader is not None:
        sql += " AND c.grader = ?"
    sql += " ORDER BY c.problem_id, c.grader LIMIT ?"
    yield from _keyset(db, sql, [run_id], [-1, ""], [grader] if grader else [],
                       lambda last: [last[1], last[3]], page)


def annotation_pages(db: sqlite_utils.Database, run_ids: Sequence[int],
                     label: str | None = None, page: int = 10_000) -> Iterator[Page]:
    """The labels on samples of ``run_ids`` (optionally only ``label``), by annotation id,
    :data:`ANNOTATION_COLUMNS` per row."""
    if not run_ids:
        return
    if len(run_ids) > 500:
        raise StoreError("annotations: at most 500 runs at once")
    marks = ",".join("?" * len(run_ids))
    sql = ("SELECT a.id, a.sample_id, s.run_id, s.problem_id, p.idx, s.sample_idx, a.reviewer, "
           "a.label, a.note, a.created_at, a.updated_at FROM annotations a "
           "JOIN samples s ON s.id = a.sample_id JOIN problems p ON p.id = s.problem_id "
           f"WHERE s.run_id IN ({marks}) AND a.id > ?")
    if label is not None:
        sql += " AND a.label = ?"
    sql += " ORDER BY a.id LIMIT ?"
    yield from _keyset(db, sql, list(run_ids), [0], [label] if label else [],
                       lambda last: [last[0]], page)
