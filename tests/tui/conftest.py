"""Fixtures for the app tests: private copies of a small two-run database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .fixture_db import build_db


@pytest.fixture(scope="session")
def built_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fixture") / "fixture.db"
    build_db(path)
    return path


@pytest.fixture
def db_path(built_db: Path, tmp_path: Path) -> Path:
    """A private copy of the fixture database (tests may not share a file they could change)."""
    dest = tmp_path / "fixture.db"
    shutil.copyfile(built_db, dest)
    return dest


@pytest.fixture
def live_db_path(tmp_path: Path) -> Path:
    path = tmp_path / "live.db"
    build_db(path, live=True)
    return path
