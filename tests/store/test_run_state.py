"""The one rule for a run whose writer is gone (`stale`), shared by `runs` and the app."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reachscope.store import ProblemIn, RunSpec, open_db
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import (
    STALE_AFTER_S,
    get_or_create_run,
    list_runs,
    run_progress,
    run_state,
    update_run,
    writer_state,
)

ME = {"pid": os.getpid(), "host": socket.gethostname()}


def beat(age_s: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=age_s)).isoformat(timespec="milliseconds")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_writer_state_by_pid_host_and_heartbeat() -> None:
    assert writer_state("running", beat(1), ME) == "running"
    assert writer_state("running", beat(STALE_AFTER_S + 5), ME) == "stale"  # no heartbeat
    gone = dead_pid()
    assert writer_state("running", beat(1), {**ME, "pid": gone}) == "stale"
    # Another host: its pid cannot be checked here, only the heartbeat counts.
    other = {"pid": gone, "host": ME["host"] + "-elsewhere"}
    assert writer_state("running", beat(1), other) == "running"
    assert writer_state("running", beat(STALE_AFTER_S + 5), other) == "stale"
    assert writer_state("finished", beat(STALE_AFTER_S + 5), ME) == "finished"
    assert writer_state("running", beat(1), {}) == "running"  # runs from before writers were kept
    assert writer_state("running", "not a time", None) == "running"


def test_run_state_and_progress_state(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    with db.atomic():
        upsert_problems(db, "d", [ProblemIn(0, "1+1?", "2")])
        run_id, _ = get_or_create_run(db, RunSpec("live", "d", n_target=4))
        update_run(db, run_id, provenance={"writer": {**ME, "pid": dead_pid()}})
    run = list_runs(db)[0]
    assert (run.status, run_state(run)) == ("running", "stale")
    progress = run_progress(db, run_id)
    assert (progress.status, progress.state) == ("running", "stale")
    with db.atomic():
        update_run(db, run_id, provenance={"writer": ME})
    assert run_progress(db, run_id).state == "running"
