"""Opening a reachscope database: the one place where connections and pragmas are set."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any


def _import_sqlite_utils_lean() -> Any:
    # sqlite-utils imports pandas (~300 ms) and numpy (~80 ms) only to map pd.Timestamp and numpy
    # scalar column types when it creates tables from Python values; reachscope creates its
    # tables with SQL (store/schema.py) and never inserts through sqlite-utils. Hiding both during
    # that import keeps every CLI command and the app's cold start fast; they stay importable
    # afterwards for the code that needs them (numpy loads with the first comparison).
    if "sqlite_utils" in sys.modules:
        import sqlite_utils

        return sqlite_utils
    hidden = [name for name in ("pandas", "numpy") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import sqlite_utils
    finally:
        for name in hidden:
            del sys.modules[name]
    return sqlite_utils


if TYPE_CHECKING:
    import sqlite_utils
else:
    sqlite_utils = _import_sqlite_utils_lean()

from .schema import MIGRATIONS, OPTIONAL_FOR_READERS  # noqa: E402  (after sqlite-utils above)


class StoreError(Exception):
    """A database cannot be opened or used as asked (missing file, wrong schema, unknown run)."""


def open_db(
    path: str | Path, read_only: bool = False, immutable: bool = False
) -> sqlite_utils.Database:
    """Open (and, for writers, create or migrate) a reachscope database.

    Args:
        path: the SQLite file.
        read_only: open with ``mode=ro`` for viewers; the file is never written (no migration, no
            pragma that changes the file). The database must exist; one that lacks only
            migrations of :data:`~.schema.OPTIONAL_FOR_READERS` opens (reads fall back).
        immutable: with ``read_only``, open with ``immutable=1``: no locks and no ``-shm`` file,
            so a WAL database in a directory the user cannot write can be read. Safe only while
            nothing writes the file (changes by others are not seen, or seen torn).

    Returns:
        A ``sqlite_utils.Database`` with the pragmas below set.
    """
    path = Path(path)
    if read_only:
        if not path.exists():
            raise StoreError(f"{path}: no such database")
        mode = "immutable=1" if immutable else "mode=ro"
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?{mode}", uri=True, check_same_thread=False
        )
        try:
            db = sqlite_utils.Database(conn, execute_plugins=False)
            _set_connection_pragmas(db)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(_read_error(path, exc)) from exc
        if missing_for_readers(db):
            raise StoreError(
                f"{path}: database schema is older than this reachscope or not a reachscope "
                "database; "
                "a command that writes to it (`reachscope grade`, `sample` or `import`) migrates it"
            )
        return db
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    conn = sqlite3.connect(str(path), check_same_thread=False)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    if new:
        # 16 KiB pages hold several 1-2 KB traces each: fewer page writes per sample at ingest
        # (must be set before the first table exists).
        db.execute("PRAGMA page_size=16384")
    try:
        # WAL lets viewers read a consistent snapshot while a sampler writes, and makes each
        # committed batch durable without blocking readers.
        db.enable_wal()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a SQLite database ({exc})") from exc
    _set_connection_pragmas(db)
    # NORMAL is crash-safe in WAL mode (a power cut may lose the last commit, never corrupt).
    db.execute("PRAGMA synchronous=NORMAL")
    MIGRATIONS.apply(db)
    return db


def missing_for_readers(db: sqlite_utils.Database) -> list[str]:
    """Pending migrations without which this reachscope cannot read the file (those in
    :data:`~.schema.OPTIONAL_FOR_READERS` are left out: reads fall back where they are missing)."""
    return [m.name for m in MIGRATIONS.pending(db) if m.name not in OPTIONAL_FOR_READERS]


def has_table(db: sqlite_utils.Database, name: str) -> bool:
    """Whether the file has table ``name`` (a file that a read-only viewer did not migrate may
    lack the tables of :data:`~.schema.OPTIONAL_FOR_READERS`)."""
    row = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]).fetchone()
    return row is not None


def is_wal_file(path: str | Path) -> bool:
    """Whether a database file's header says WAL (bytes 18-19 are 2), read without SQLite."""
    try:
        with open(path, "rb") as f:
            header = f.read(20)
    except OSError:
        return False
    return len(header) == 20 and header[:16] == b"SQLite format 3\x00" and header[18] == 2


def _read_error(path: Path, exc: sqlite3.DatabaseError) -> str:
    """A one-line reason a viewer cannot read ``path``, and what to do about it."""
    directory = path.resolve().parent
    side = [Path(f"{path}{s}") for s in ("-wal", "-shm")]
    if is_wal_file(path) and not os.access(directory, os.W_OK) and not all(
        p.exists() for p in side
    ):
        return (
            f"{path}: cannot read this WAL database: SQLite must create {path.name}-shm next to "
            f"it and {directory} is not writable; copy the file to a writable directory, or pass "
            "--immutable if nothing is writing it"
        )
    return f"{path}: not a SQLite database ({exc})"


def side_files(path: str | Path) -> set[Path]:
    """The ``-wal``/``-shm``/``-journal`` files next to a database that exist now."""
    return {p for s in ("-wal", "-shm", "-journal") if (p := Path(f"{path}{s}")).exists()}


def release_side_files(path: str | Path, existed: set[Path]) -> None:
    """Remove the ``-wal``/``-shm`` files a reader's connections created, after they closed.

    A read-only connection on a WAL database creates both files and cannot remove them. A plain
    connection opened and closed here is the last one on the file, so SQLite checkpoints an empty
    log (the database is not changed) and deletes both; it keeps them, under its own locks, when
    another process still has the file open. Nothing is done when the files were there before.
    """
    created = side_files(path) - existed
    if not created or any(p.name.endswith("-journal") for p in created):
        return
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return  # someone else wrote meanwhile: their log, not ours
    try:
        conn = sqlite3.connect(str(path))
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        pass  # best effort: a directory we cannot write keeps nothing of ours anyway


def open_annotation_writer(path: str | Path) -> sqlite_utils.Database:
    """Open an existing database to write annotations only: the file is not converted.

    Unlike :func:`open_db` for writers, this sets no WAL, no page size and applies no migration,
    so writing a label changes nothing but annotation rows (a ``journal_mode=delete`` file stays
    so, and leaves no side files once closed).

    Raises:
        StoreError: the file is missing or its schema is older than this reachscope.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: no such database")
    conn = sqlite3.connect(str(path), check_same_thread=False)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    try:
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA foreign_keys=ON")
        pending = missing_for_readers(db)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{path}: not a SQLite database ({exc})") from exc
    if pending:
        conn.close()
        raise StoreError(
            f"{path}: database schema is older than this reachscope, and saving a label never "
            "migrates a file; a command that writes to it (`reachscope grade`, `sample` or "
            "`import`) migrates it, then label again"
        )
    return db


def _set_connection_pragmas(db: sqlite_utils.Database) -> None:
    # A sampler and grader workers write while viewers read: wait for locks instead of failing.
    db.execute("PRAGMA busy_timeout=30000")
    # grades -> samples -> runs/problems references are real; keep them enforced.
    db.execute("PRAGMA foreign_keys=ON")
    # Sort and temp B-trees for large aggregates stay in memory.
    db.execute("PRAGMA temp_store=MEMORY")
    # Larger page cache (64 MiB) for million-sample reads.
    db.execute("PRAGMA cache_size=-65536")


def data_version(db: sqlite_utils.Database) -> int:
    """A cheap counter that changes when another connection commits (``PRAGMA data_version``)."""
    return int(db.execute("PRAGMA data_version").fetchone()[0])
