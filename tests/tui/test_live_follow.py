"""Compare follows the database (issue 9, point 1): the app opened on an empty database sees a
real `reachscope sample` subprocess add two runs, their grades, curves and coverage."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from reachscope.store import open_db
from reachscope.tui.app import create_app
from reachscope.tui.screens.compare import CompareScreen
from textual.widgets import Select

from .helpers import settle

SAMPLE_DB = Path(__file__).resolve().parents[2] / "sample_db"


def sample_command(db: Path) -> list[str]:
    models = SAMPLE_DB / "models"
    return [sys.executable, "-m", "reachscope.core.cli", "sample", "--db", str(db),
            "--dataset", str(SAMPLE_DB / "lab" / "data" / "test.jsonl"),
            "--dataset-name", "lab-arith", "--model", f"base={models / 'base'}",
            "--model", f"rl={models / 'rl'}", "--n", "4", "--limit", "4", "--backend", "hf",
            "--device", "cpu", "--temperature", "0.6", "--max-tokens", "24",
            "--template", "plain", "--seed", "0", "--grade-workers", "1", "--quiet"]


def comparison_complete(screen: CompareScreen) -> bool:
    comp = screen.comparison
    return (comp is not None and len(comp.runs) == 2 and comp.coverage is not None
            and all(rc.run.status == "finished" for rc in comp.runs))


async def test_compare_follows_a_sampler_from_an_empty_database(tmp_path: Path) -> None:
    db_path = tmp_path / "runs.db"
    open_db(db_path).close()  # an empty reachscope database
    app = create_app(db_path, poll_interval=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen) and app.runs == []
        proc = await asyncio.create_subprocess_exec(
            *sample_command(db_path), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        communicate = asyncio.ensure_future(proc.communicate())
        for _ in range(6000):  # the sampler runs meanwhile; bounded, not a fixed sleep
            await pilot.pause(0.05)
            if communicate.done():
                break
        out, err = await communicate
        assert proc.returncode == 0, err.decode()[-2000:]
        for _ in range(400):
            await pilot.pause(0.05)
            if comparison_complete(screen):
                break
        await settle(pilot)
        assert comparison_complete(screen), (app.runs, screen.comparison)
        assert sorted(r.label for r in app.runs) == ["base", "rl"]
        comp = screen.comparison
        assert [rc.run.label for rc in comp.runs] == ["base", "rl"]
        assert all(len(comp.curves[k]) == len(comp.ks) for k in comp.keys)
        assert sum(comp.coverage.as_counts().values()) == 4
        picked = {screen.query_one(f"#run-{w}", Select).value for w in "ab"}
        assert picked == {r.id for r in app.runs}


async def test_ctrl_r_rereads_runs_added_meanwhile(tmp_path: Path) -> None:
    db_path = tmp_path / "runs.db"
    open_db(db_path).close()
    app = create_app(db_path, poll_interval=0)  # no poll: only the key reloads
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.runs == []
        from .fixture_db import build_db

        build_db(db_path)
        await settle(pilot)
        assert app.runs == []
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert sorted(r.label for r in app.runs) == ["base", "rl"]
        assert app.screen.comparison is not None
