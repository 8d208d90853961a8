"""A run left `running` by a writer that is gone shows `stale` in the app (issue 9, point 12),
by the same rule as `reachscope runs`: a dead pid on this host, or no heartbeat for a while."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reachscope.store.runs import STALE_AFTER_S
from reachscope.tui.app import create_app
from reachscope.tui.screens.live import LiveScreen
from reachscope.tui.widgets.run_progress import RunProgressTable

from .helpers import settle

HOST = socket.gethostname()


def set_writer(path: Path, pid: int, age_s: float = 0.0) -> None:
    """Record ``pid`` on this host as the writer of `rl-live`, its last heartbeat ``age_s`` ago."""
    beat = (datetime.now(UTC) - timedelta(seconds=age_s)).isoformat(timespec="milliseconds")
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE runs SET provenance = ?, updated_at = ? WHERE label = 'rl-live'",
                     [json.dumps({"writer": {"pid": pid, "host": HOST}}), beat])
    conn.close()


async def live_status(app, pilot) -> tuple[RunProgressTable, int]:  # noqa: ANN001
    await settle(pilot)
    await pilot.press("L")
    await settle(pilot)
    assert isinstance(app.screen, LiveScreen)
    run_id = next(r.id for r in app.runs if r.label == "rl-live")
    return app.screen.query_one(RunProgressTable), run_id


def status_cell(table: RunProgressTable, run_id: int) -> str:
    return str(table.get_cell(str(run_id), "status"))


async def test_dead_writer_pid_shows_stale(live_db_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    set_writer(live_db_path, dead.pid)
    app = create_app(live_db_path, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        table, run_id = await live_status(app, pilot)
        assert status_cell(table, run_id) == "stale"
        assert "stale" in app.export_screenshot()


async def test_old_heartbeat_shows_stale(live_db_path: Path) -> None:
    set_writer(live_db_path, os.getpid(), age_s=STALE_AFTER_S + 60)  # alive, but silent
    app = create_app(live_db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        table, run_id = await live_status(app, pilot)
        assert status_cell(table, run_id) == "stale"
        # The other runs keep their stored status.
        assert {status_cell(table, r.id) for r in app.runs if r.label != "rl-live"} == {"finished"}


async def test_writer_killed_while_watching_turns_stale_without_a_write(
        live_db_path: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        set_writer(live_db_path, writer.pid)
        app = create_app(live_db_path, poll_interval=0)
        async with app.run_test(size=(120, 40)) as pilot:
            table, run_id = await live_status(app, pilot)
            assert status_cell(table, run_id) == "running"
            writer.kill()
            writer.wait(timeout=30)
            table.tick(time.monotonic())  # what the screen's one-second timer does
            await pilot.pause()
            assert status_cell(table, run_id) == "stale"
    finally:
        writer.kill()
        writer.wait(timeout=30)


async def test_compare_run_pickers_say_stale(live_db_path: Path) -> None:
    from textual.widgets import Select

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    set_writer(live_db_path, dead.pid)
    app = create_app(live_db_path, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        prompts = [str(prompt) for select in app.screen.query(Select)
                   for prompt, _ in select._options]
        live = [p for p in prompts if p.startswith("rl-live")]
        assert live and all("stale" in p and "running" not in p for p in live), prompts
