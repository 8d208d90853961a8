"""SIGKILL a real `reachscope score` mid-run; the rerun scores every sample exactly once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .labdb import MODELS, lab_copy

pytestmark = pytest.mark.slow


def _scored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM scores").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def test_killed_scoring_resumes_exactly(tmp_path: Path) -> None:
    db = lab_copy(tmp_path / "lab.db", problems=30, per_problem=16)  # 960 samples
    cmd = [sys.executable, "-m", "reachscope.core.cli", "score", str(db), "--scorer",
           f"base={MODELS / 'base'}", "--hf-batch-size", "4", "--batch-size", "16", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    end = time.monotonic() + 180
    while _scored(db) < 64:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < end, "scorer made no progress"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _scored(db)
    assert 64 <= before < 960 and before % 16 == 0  # whole batches only
    err = subprocess.run(cmd, check=True, capture_output=True, text=True).stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        total = conn.execute("SELECT count(*) FROM samples").fetchone()[0]
        per_sample = conn.execute(
            "SELECT count(*), count(DISTINCT sample_id), sum(error IS NOT NULL), "
            "sum(c.n_tokens > 0) FROM scores c").fetchone()
    assert total == 960
    assert per_sample == (960, 960, 0, 960)
    rescored = sum(int(line.split("scored ")[1].split()[0])
                   for line in err.splitlines() if " scored " in line)
    assert rescored == 960 - before  # the rerun scored only what the killed run had not
