"""A viewer never converts a user's file (issue 9, points 2 and 14).

Labelling a trace on a copy of the demo database (``journal_mode=delete``) must change nothing
but annotation rows: no migration, no WAL switch, no page-size change, no side files left. A WAL
database in a directory the user cannot write gets a clear message and opens with --immutable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from reachscope.store import StoreError, open_db
from reachscope.store.annotations import annotations_of
from reachscope.store.db import open_annotation_writer
from reachscope.tui.app import create_app
from reachscope.tui.screens.trace import TraceScreen

from .helpers import open_first_trace, settle

DEMO = Path(__file__).resolve().parents[2] / "sample_db" / "demo.db"
REACHSCOPE = Path(sys.executable).parent / "reachscope"


def content_digest(path: Path) -> str:
    """sha256 over the schema, file-level pragmas and every row of every table but annotations."""
    h = hashlib.sha256()
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        for pragma in ("page_size", "user_version", "application_id", "auto_vacuum", "encoding"):
            h.update(repr(conn.execute(f"PRAGMA {pragma}").fetchone()).encode())
        schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        h.update(repr(schema).encode())
        for (table,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'annotations' "
            "ORDER BY name"
        ).fetchall():
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2'):
                h.update(repr(row).encode())
    finally:
        conn.close()
    return h.hexdigest()


def journal_mode(path: Path) -> str:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "demo.db"
    shutil.copyfile(DEMO, dest)
    return dest


async def test_labelling_the_demo_changes_only_annotation_rows(demo_copy: Path) -> None:
    assert journal_mode(demo_copy) == "delete"
    digest, listing = content_digest(demo_copy), sorted(os.listdir(demo_copy.parent))
    app = create_app(demo_copy, poll_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_first_trace(pilot)
        trace = app.screen
        assert isinstance(trace, TraceScreen)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("enter", "tab", *"checked", "enter")
        await settle(pilot)
        assert [a["note"] for a in trace.annotations] == ["checked"]
        sample_id = trace.sample.id
    db = open_db(demo_copy, read_only=True)
    assert [a["note"] for a in annotations_of(db, sample_id)] == ["checked"]
    db.close()
    assert journal_mode(demo_copy) == "delete"
    assert content_digest(demo_copy) == digest
    assert sorted(os.listdir(demo_copy.parent)) == listing


async def test_browsing_a_wal_database_leaves_no_side_files(demo_copy: Path) -> None:
    conn = sqlite3.connect(demo_copy)
    conn.execute("PRAGMA journal_mode=wal")
    conn.close()
    listing = sorted(os.listdir(demo_copy.parent))
    assert listing == ["demo.db"]
    app = create_app(demo_copy, poll_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert any(p.name.endswith("-shm") for p in demo_copy.parent.iterdir())
    assert sorted(os.listdir(demo_copy.parent)) == listing
    assert journal_mode(demo_copy) == "wal"


def test_annotation_writer_refuses_an_old_schema(demo_copy: Path) -> None:
    conn = sqlite3.connect(demo_copy)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm002_upstream_answers'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="older than this reachscope.*never migrates"):
        open_annotation_writer(demo_copy)
    assert journal_mode(demo_copy) == "delete"


@pytest.fixture
def unwritable_wal_db() -> Iterator[Path]:
    """A WAL database in a directory that user ``nobody`` cannot write."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop to an unprivileged user")
    folder = Path(tempfile.mkdtemp(prefix="reachscope-ro-", dir="/tmp"))
    path = folder / "runs.db"
    shutil.copyfile(DEMO, path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=wal")
    conn.close()
    path.chmod(0o644)
    folder.chmod(0o555)
    try:
        yield path
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *args],
        capture_output=True, text=True, timeout=120,
    )


def test_unwritable_directory_says_how_to_proceed(unwritable_wal_db: Path) -> None:
    result = as_nobody(str(REACHSCOPE), "tui", str(unwritable_wal_db))
    assert result.returncode == 1
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, result.stderr
    assert "not writable" in err[0] and "--immutable" in err[0]
    assert "attempt to write a readonly database" not in err[0]


IMMUTABLE_SCRIPT = """
import asyncio, sys
from reachscope.tui.app import create_app

async def main():
    app = create_app(sys.argv[1], poll_interval=0, immutable=True)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(200):
            await pilot.pause(0.05)
            if app.screen.comparison is not None:
                break
        print(sorted(r.label for r in app.runs), app.screen.comparison is not None)

asyncio.run(main())
"""


def test_immutable_flag_opens_it(unwritable_wal_db: Path) -> None:
    result = as_nobody(sys.executable, "-c", IMMUTABLE_SCRIPT, str(unwritable_wal_db))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("True"), result.stdout
    assert sorted(os.listdir(unwritable_wal_db.parent)) == ["runs.db"]
