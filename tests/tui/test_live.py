"""The Live screen while another process (a real subprocess using the store API) writes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from reachscope.tui.app import create_app
from reachscope.tui.screens.live import LiveScreen
from reachscope.tui.widgets.run_progress import RunProgressTable

from .helpers import settle

WRITER = Path(__file__).with_name("live_writer.py")


def write_in_other_process(db_path: Path, *args: str) -> None:
    subprocess.run([sys.executable, str(WRITER), str(db_path), *args], check=True, timeout=60)


async def test_live_screen_follows_another_process(live_db_path: Path) -> None:
    app = create_app(live_db_path, poll_interval=0)  # polls driven by hand: deterministic
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.check_for_changes()  # the first poll only records where the database stands
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        live = app.screen
        assert isinstance(live, LiveScreen)
        table = live.query_one(RunProgressTable)
        run_id = next(r.id for r in app.runs if r.label == "rl-live")
        assert table.progress[run_id].samples == 24 and table.progress[run_id].target == 96
        assert "only rl-live 2" in str(live.query_one("#live-coverage").render())
        curves_before = dict(live._curves)
        changed_before = live.curves_changed_at

        write_in_other_process(live_db_path, "2", "5")  # three more samples per problem
        app.check_for_changes()
        await settle(pilot)
        assert table.progress[run_id].samples == 60
        assert table.progress[run_id].graded == 60
        assert live.curves_changed_at != changed_before
        assert live._curves["rl-live"] != curves_before["rl-live"]
        # every problem now has a correct rl-live sample: nothing is "only base" or "neither"
        coverage = str(live.query_one("#live-coverage").render())
        assert "only base 0" in coverage and "neither 0" in coverage

        write_in_other_process(live_db_path, "5", "8")
        app.check_for_changes()
        await settle(pilot)
        assert table.progress[run_id].samples == 96
        assert table.progress[run_id].status == "finished"


async def open_live(pilot) -> RunProgressTable:  # noqa: ANN001
    """From Compare, the Live screen (L); its progress table once everything has loaded."""
    await settle(pilot)
    await pilot.press("L")
    await settle(pilot)
    return pilot.app.screen.query_one(RunProgressTable)


async def test_the_poll_timer_picks_up_commits(live_db_path: Path) -> None:
    app = create_app(live_db_path, poll_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_live(pilot)
        run_id = next(r.id for r in app.runs if r.label == "rl-live")
        write_in_other_process(live_db_path, "2", "4")
        # Wait for the timer (bounded): the condition, not the delay, decides.
        for _ in range(100):
            if table.progress[run_id].samples == 48:
                break
            await pilot.pause(0.05)
        assert table.progress[run_id].samples == 48


def downgrade_to_m003(path: Path, scratch: Path) -> None:
    """Make ``path`` what reachscope before m004 wrote: every table, index and trigger that later
    migrations added is dropped, and their records with them."""
    import sqlite_utils
    from reachscope.store.schema import MIGRATIONS

    old = sqlite_utils.Database(scratch)
    MIGRATIONS.apply(old, stop_before="m004_sample_counts")
    keep = {name for (name,) in old.execute("SELECT name FROM sqlite_master")}
    applied = [m.name for m in MIGRATIONS.applied(old)]
    old.close()
    conn = sqlite3.connect(path)
    with conn:
        for kind in ("trigger", "index", "table"):
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = ? AND "
                                        "name NOT LIKE 'sqlite_%'", [kind]).fetchall():
                if name not in keep:
                    conn.execute(f"DROP {kind.upper()} IF EXISTS {name}")
        conn.execute(f"DELETE FROM _sqlite_migrations WHERE name NOT IN "
                     f"({','.join('?' * len(applied))})", applied)
    conn.execute("VACUUM")
    conn.close()


async def test_live_screen_on_a_file_at_the_previous_schema(live_db_path: Path,
                                                           tmp_path: Path) -> None:
    """The app never migrates: on an m003 file the counts are read from the samples instead."""
    downgrade_to_m003(live_db_path, tmp_path / "m003.db")
    conn = sqlite3.connect(live_db_path)
    assert [n for (n,) in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")] == [
        "m001_initial", "m002_upstream_answers", "m003_annotation_reviewer"]
    conn.close()
    before = live_db_path.read_bytes()
    app = create_app(live_db_path, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_live(pilot)
        by_label = {p.label: p for p in table.progress.values()}
        assert (by_label["rl-live"].samples, by_label["base"].samples) == (24, 96)
    assert live_db_path.read_bytes() == before
