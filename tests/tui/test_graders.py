"""The grader is visible and switchable (issue 9, point 4): every verdict screen names its
grader, `g` cycles the graders of the compared runs, and disagreements are marked and filtered."""

from __future__ import annotations

from pathlib import Path

from reachscope.core.grading import audit_run
from reachscope.store import GradeIn, open_db
from reachscope.store.grades import write_grades
from reachscope.store.runs import get_run
from reachscope.tui.app import create_app
from reachscope.tui.screens.problem import DISAGREED, ProblemScreen
from reachscope.tui.screens.problems import ProblemsScreen
from textual.widgets import DataTable, Static

from .helpers import settle


def add_strict_grader(path: Path) -> set[int]:
    """A second grader, `strict`, that calls every sample of problem #0 incorrect; returns the
    ids of the base samples where it disagrees with `math` (what `reachscope audit` lists)."""
    db = open_db(path)
    rows = db.execute(
        "SELECT s.id, p.idx, g.verdict FROM samples s JOIN problems p ON p.id = s.problem_id "
        "JOIN grades g ON g.sample_id = s.id AND g.grader = 'math'").fetchall()
    with db.atomic():
        write_grades(db, [
            GradeIn(sample_id=sid, grader="strict",
                    verdict="incorrect" if idx == 0 else verdict, answer=None)
            for sid, idx, verdict in rows])
    base = get_run(db, "base")
    expected = {d.sample_id for d in audit_run(db, base, "math", "strict").disagreements}
    db.close()
    return expected


async def test_grader_shown_cycled_and_disagreements_marked(db_path: Path) -> None:
    expected = add_strict_grader(db_path)
    assert expected
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        notes = str(app.screen.query_one("#compare-notes", Static).render())
        assert "grader: base math, rl math" in notes
        before = app.screen.comparison.curves["base"][0]
        await pilot.press("g")
        await settle(pilot)
        assert app.grader_choice == "strict"
        comp = app.screen.comparison
        assert [rc.grader for rc in comp.runs] == ["strict", "strict"]
        assert comp.curves["base"][0] < before  # problem 0 now fails
        assert "grader: base strict" in str(app.screen.query_one("#compare-notes",
                                                                  Static).render())
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ProblemsScreen)
        assert "grader strict" in str(app.screen.query_one("#problems-status", Static).render())
        await pilot.press("enter")  # problem #0
        await settle(pilot)
        problem = app.screen
        assert isinstance(problem, ProblemScreen)
        assert "grader strict" in str(problem.query_one("#problem-head", Static).render())
        base_ids = {s.id for s in problem.samples if s.run_id == app.run_a.id}
        assert problem.disagreed & base_ids == expected
        assert all(s.verdict == "incorrect" for s in problem.samples)
        table = problem.query_one("#samples", DataTable)
        marked = {problem.shown[i].id for i in range(table.row_count)
                  if DISAGREED in str(table.get_row_at(i)[0])}
        assert marked == set(problem.disagreed)
        await pilot.press("exclamation_mark")
        await pilot.pause()
        assert {s.id for s in problem.shown} == set(problem.disagreed)
        await pilot.press("g")  # back to math, on this screen too
        await settle(pilot)
        assert app.grader_choice == "math"
        assert "grader math" in str(problem.query_one("#problem-head", Static).render())
