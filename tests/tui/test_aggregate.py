"""Aggregate-only runs (issue 9, point 8): the problem page shows the imported counts and the
shipped problem text and says there are no sample texts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reachscope.tui.app import create_app
from reachscope.tui.screens.problem import ProblemScreen
from textual.widgets import DataTable, Static

from .helpers import settle


def import_counts(db: Path, tmp_path: Path) -> None:
    csv = tmp_path / "counts.csv"
    csv.write_text("problem_index,model,n,correct\n0,base-agg,128,104\n1,base-agg,128,3\n"
                   "0,rl-agg,128,120\n1,rl-agg,128,0\n")
    result = subprocess.run(
        [sys.executable, "-m", "reachscope.core.cli", "import", "counts", str(csv), "--db",
         str(db), "--dataset", "math500"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


async def test_problem_page_of_an_aggregate_run(tmp_path: Path) -> None:
    db = tmp_path / "agg.db"
    import_counts(db, tmp_path)
    app = create_app(db, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert sorted(r.label for r in app.runs) == ["base-agg", "rl-agg"]
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        problem = app.screen
        assert isinstance(problem, ProblemScreen)
        head = str(problem.query_one("#problem-head", Static).render())
        assert "104/128 correct" in head and "120/128 correct" in head
        assert "no sample texts" in head
        answers = problem.query_one("#answers", DataTable)
        assert [str(answers.get_row_at(i)[1]) for i in range(answers.row_count)] == [
            "104/128 correct", "120/128 correct"]
        # The shipped MATH-500 problem 0's statement is shown.
        assert problem.samples == []
        statement = problem.query_one("#statement")
        assert "polar" in statement.source.lower()


async def test_live_does_not_report_samples_for_an_aggregate_run(tmp_path: Path) -> None:
    from reachscope.tui.screens.live import LiveScreen
    from reachscope.tui.widgets.run_progress import RunProgressTable

    db = tmp_path / "agg.db"
    import_counts(db, tmp_path)
    app = create_app(db, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        assert isinstance(app.screen, LiveScreen)
        table = app.screen.query_one(RunProgressTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert not any("256" in c or "128" in c for row in rows for c in row), rows
