"""Opening a reachscope database: the one place where connections and pragmas are set."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any


def _import_sqlite_utils_without_pandas() -> Any:
    # sqlite-utils imports pandas (~300 ms) only to map pd.Timestamp column types, which
    # reachscope never inserts. Hiding pandas during that import keeps every CLI command and the
    # app's cold start fast; pandas stays importable afterwards for code that needs it.
    if "pandas" in sys.modules or "sqlite_utils" in sys.modules:
        import sqlite_utils

        return sqlite_utils
    sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        import sqlite_utils
    finally:
        del sys.modules["pandas"]
    return sqlite_utils


if TYPE_CHECKING:
    import sqlite_utils
else:
    sqlite_utils = _import_sqlite_utils_without_pandas()

from .schema import MIGRATIONS  # noqa: E402  (after the sqlite-utils import above)


class StoreError(Exception):
    """A database cannot be opened or used as asked (missing file, wrong schema, unknown run)."""


def open_db(path: str | Path, read_only: bool = False) -> sqlite_utils.Database:
    """Open (and, for writers, create or migrate) a reachscope database.

    Args:
        path: the SQLite file.
        read_only: open with ``mode=ro`` for viewers; the file is never written (no migration, no
            pragma that changes the file). The database must exist.

    Returns:
        A ``sqlite_utils.Database`` with the pragmas below set.
    """
    path = Path(path)
    if read_only:
        if not path.exists():
            raise StoreError(f"{path}: no such database")
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
        )
        try:
            db = sqlite_utils.Database(conn, execute_plugins=False)
            _set_connection_pragmas(db)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{path}: not a SQLite database ({exc})") from exc
        if MIGRATIONS.pending(db):
            raise StoreError(
                f"{path}: database schema is older than this reachscope or not a reachscope "
                "database; "
                "open it once for writing (e.g. `reachscope runs`) to migrate"
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
