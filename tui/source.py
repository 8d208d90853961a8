"""The app's view of one database: a read-only connection shared by workers, and a second one
that only polls for changes. Plain Python (no Textual), so it can be tested and benchmarked."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlite_utils
from reachscope.store import StoreError, data_version, open_db
from reachscope.store.counts import count_totals
from reachscope.store.db import release_side_files, side_files
from reachscope.store.runs import run_statuses
from reachscope.store.samples import last_sample_id

T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot:
    """What the poller compares between ticks to tell which runs changed."""

    version: int
    totals: dict[tuple[int, str], tuple[int, int, int]]
    statuses: dict[int, tuple[str, str]]
    last_sample: int

    def changed_runs(self, before: Snapshot | None) -> set[int]:
        """Runs whose grades, status or samples moved since ``before``."""
        runs = {r for r, _ in self.totals} | set(self.statuses)
        if before is None:
            return runs
        changed = {r for (r, g), v in self.totals.items() if before.totals.get((r, g)) != v}
        changed |= {r for (r, g) in before.totals if (r, g) not in self.totals}
        changed |= {r for r, v in self.statuses.items() if before.statuses.get(r) != v}
        if self.last_sample != before.last_sample:
            # New samples without grades yet: only running runs can be receiving them.
            changed |= {r for r, (s, _) in self.statuses.items() if s == "running"}
        return changed


class Source:
    """A database opened read-only for the app (the file is never written through it).

    Workers run queries through :meth:`query`, which serialises use of the shared connection. The
    poller has its own connection because ``PRAGMA data_version`` is per connection and must not
    wait behind a long query.
    """

    def __init__(self, path: str | Path, immutable: bool = False) -> None:
        self.path = Path(path)
        self.immutable = immutable
        #: Side files present before the app opened the file: the app removes only its own.
        self._side_files_before = side_files(self.path)
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        #: Set by close(): a worker still running then must not reopen a connection, which would
        #: keep SQLite from removing the side files.
        self._closed = False
        self._db: sqlite_utils.Database | None = None
        self._poll_db: sqlite_utils.Database | None = None
        self._last: Snapshot | None = None

    def query(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``fn(db)`` on the shared read-only connection (opened on first use)."""
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path}: the app has closed this database")
            if self._db is None:
                self._db = open_db(self.path, read_only=True, immutable=self.immutable)
            return fn(self._db)

    def poll(self) -> set[int] | None:
        """Runs changed since the last poll, or None when nothing was committed meanwhile."""
        with self._poll_lock:
            if self._closed:
                return None
            if self._poll_db is None:
                self._poll_db = open_db(self.path, read_only=True, immutable=self.immutable)
            db = self._poll_db
            version = data_version(db)
            if self._last is not None and version == self._last.version:
                return None
            snap = Snapshot(version, count_totals(db), run_statuses(db),
                            last_sample_id(db))
            changed = snap.changed_runs(self._last)
            first = self._last is None
            self._last = snap
            return None if first else changed

    def close(self) -> None:
        with self._lock, self._poll_lock:
            self._closed = True
            for db in (self._db, self._poll_db):
                if db is not None:
                    db.close()
            self._db = self._poll_db = None
            self._last = None
        if not self.immutable:
            release_side_files(self.path, self._side_files_before)
