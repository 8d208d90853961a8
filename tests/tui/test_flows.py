"""Pilot tests of each screen and the main flows, on a real SQLite file."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from reachscope.store import open_db
from reachscope.store.annotations import annotations_of
from reachscope.store.runs import list_runs
from reachscope.tui.app import create_app
from reachscope.tui.screens.compare import CompareScreen
from reachscope.tui.screens.diff import DiffScreen
from reachscope.tui.screens.problem import ProblemScreen
from reachscope.tui.screens.problems import ProblemsScreen
from reachscope.tui.screens.trace import TraceScreen
from textual.widgets import DataTable, Input, RadioSet, Select

from .fixture_db import build_db
from .helpers import screen_text, settle, settle_screen


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_compare_shows_curves_coverage_and_stats(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert (app.run_a.label, app.run_b.label) == ("base", "rl")
        comp = screen.comparison
        assert comp is not None and comp.ks == [1, 2, 4, 8]
        assert comp.coverage.as_counts() == {"both": 9, "only_a": 1, "only_b": 1, "neither": 1}
        coverage = screen.query_one("#coverage", DataTable)
        assert coverage.get_row_at(0)[1:] == ["9", "1", "1", "1"]
        assert coverage.get_row_at(1)[0] == "k = 1"
        summary = screen.query_one("#summary", DataTable)
        assert [summary.get_row_at(i)[0] for i in range(2)] == ["base", "rl"]
        assert screen.query_one("#bootstrap", DataTable).row_count == 4
        # The coverage k moves along the log2 grid.
        await pilot.press("plus")
        await settle(pilot)
        assert screen.comparison.coverage_at_k.k == 2
        # The plot switches to the difference with its bootstrap band.
        await pilot.press("d")
        assert screen.show_difference


async def test_flow_compare_cell_problem_trace_diff(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        coverage = app.screen.query_one("#coverage", DataTable)
        coverage.focus()
        coverage.move_cursor(row=0, column=2)  # all samples, only base
        await pilot.press("enter")
        await settle(pilot)
        problems = app.screen
        assert isinstance(problems, ProblemsScreen)
        assert [line.idx for line in problems.shown] == [0]
        await pilot.press("enter")
        await settle(pilot)
        problem = app.screen
        assert isinstance(problem, ProblemScreen)
        base_groups = problem.query_one("#answers", DataTable)
        assert base_groups.row_count >= 2
        assert len(problem.samples) == 16
        await pilot.press("enter")
        await settle(pilot)
        trace = app.screen
        assert isinstance(trace, TraceScreen)
        assert trace.sample.sample_idx == 0 and trace.sample.verdict == "correct"
        assert "\\boxed{10}" in trace.text
        await pilot.press("right_square_bracket")  # next sample (n is "next match")
        await settle(pilot)
        assert trace.sample.sample_idx == 1 and "\\boxed{11}" in trace.text
        await pilot.press("d")
        await settle(pilot)
        diff = app.screen
        assert isinstance(diff, DiffScreen)
        assert diff.auto and diff.right_run == app.run_b.id
        head = str(diff.query_one("#diff-head").render())
        assert "similarity" in head and "most similar of 8 rl samples" in head
        # Escape walks back to the start.
        for expected in (TraceScreen, ProblemScreen, ProblemsScreen, CompareScreen):
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, expected)
        await pilot.press("escape")
        assert isinstance(app.screen, CompareScreen)


async def test_problem_screen_is_kept_and_turned_to_the_next_problem(db_path: Path) -> None:
    """The app keeps one Problem screen: opening another problem shows only that problem, with
    the last one's answer filter, mark and cursor gone."""
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        first, second = app.screen.shown[0], app.screen.shown[1]
        await pilot.press("enter")
        await settle(pilot)
        problem = app.screen
        assert isinstance(problem, ProblemScreen) and problem.problem_id == first.id
        assert "#0" in str(problem.query_one("#problem-head").render())
        problem.query_one("#answers", DataTable).focus()
        await pilot.press("enter")  # filter the samples by the first answer group
        await pilot.press("m", "down")
        await settle(pilot)
        assert problem.answer_filter is not None and problem.marked is not None
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ProblemsScreen)
        app.open_problem(second.id)  # what Enter on the Problems table does
        # Emptied at once: nothing of the first problem is drawn while the second loads.
        assert app.screen is problem and problem.problem_id == second.id
        assert problem.samples == [] and problem.answer_filter is None and problem.marked is None
        assert problem.query_one("#answers", DataTable).row_count == 0
        await settle(pilot)
        assert "#1" in str(problem.query_one("#problem-head").render())
        assert {s.problem_id for s in problem.samples} == {second.id}
        assert len(problem.shown) == len(problem.samples) == 16
        assert problem.query_one("#statement").visible
        assert app.focused is problem.query_one("#samples", DataTable)


async def test_filter_only_base_solves_search_and_sort(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ProblemsScreen)
        assert len(screen.shown) == 12
        screen.query_one("#category", Select).value = "only_a"
        await pilot.pause()
        assert [line.idx for line in screen.shown] == [0]
        assert screen.query_one(DataTable).row_count == 1
        await pilot.press("f")  # next category: only B
        await pilot.pause()
        assert [line.idx for line in screen.shown] == [1]
        screen.query_one("#category", Select).value = "all"
        await pilot.pause()
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"rectangle")
        await pilot.pause()
        assert {line.idx % 4 for line in screen.shown} == {2}
        await pilot.press("enter")  # back to the table
        screen.query_one("#search", Input).value = ""
        await pilot.pause()
        await pilot.press("s", "s", "s")  # idx -> a -> b -> delta
        await pilot.pause()
        assert screen.query_state.sort == "delta"
        deltas = [line.counts[app.run_b.id][1] - line.counts[app.run_a.id][1]
                  for line in screen.shown]
        assert deltas == sorted(deltas)
        await pilot.press("r")
        await pilot.pause()
        assert screen.shown[0].idx in (3,)  # +6/8, the largest gain
        screen.query_one("#meta", Select).value = "subject\x00Geometry"
        await pilot.pause()
        assert {line.meta_str("subject") for line in screen.shown} == {"Geometry"}


async def test_annotate_a_trace_and_find_it_stored(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("enter")  # problem #0
        await settle(pilot)
        await pilot.press("enter")  # base sample 0
        await settle(pilot)
        trace = app.screen
        assert isinstance(trace, TraceScreen)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.focused, RadioSet)
        await pilot.press("down", "down", "enter")  # lucky guess
        await pilot.press("tab")
        await pilot.press(*"right answer, wrong algebra")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        assert [a["label"] for a in trace.annotations] == ["lucky guess"]
        sample_id = trace.sample.id
    db = open_db(db_path, read_only=True)
    stored = annotations_of(db, sample_id)
    db.close()
    assert [(a["label"], a["note"]) for a in stored] == [("lucky guess",
                                                         "right answer, wrong algebra")]


async def test_browsing_leaves_the_database_byte_identical(db_path: Path) -> None:
    before = sha256(db_path)
    app = create_app(db_path, poll_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("plus", "d")
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("f", "s", "enter")
        await settle(pilot)
        await pilot.press("m", "down", "d")
        await settle(pilot)
        await pilot.press("N", "a", "s", "escape", "enter")
        await settle(pilot)
        await pilot.press("right_square_bracket", "left_square_bracket", "d", "escape", "escape",
                          "escape", "escape", "L")
        await settle(pilot)
        app.check_for_changes()
        await settle(pilot)
    assert sha256(db_path) == before


async def test_diff_by_hand_and_swap(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("down", "down", "down", "enter")  # problem #3
        await settle(pilot)
        problem = app.screen
        await pilot.press("m")  # mark base sample 0
        await pilot.press(*["down"] * 9)  # rl sample 1
        await pilot.press("d")
        await settle(pilot)
        diff = app.screen
        assert isinstance(diff, DiffScreen) and not diff.auto
        assert diff.left_id == problem.samples[0].id and diff.right_id == problem.samples[9].id
        await pilot.press("N")
        await settle(pilot)
        assert diff.right_id == problem.samples[10].id and not diff.auto
        await pilot.press("a")
        await settle(pilot)
        assert diff.auto
        await pilot.press("s")
        await settle(pilot)
        assert diff.left_run == app.run_b.id


async def test_a_database_with_one_run(tmp_path: Path) -> None:
    path = tmp_path / "one.db"
    build_db(path)
    db = open_db(path)
    with db.atomic():
        db.execute("DELETE FROM runs WHERE label = 'rl'")
    db.close()
    app = create_app(path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert app.run_b is None
        assert screen.comparison is not None and screen.comparison.coverage is None
        assert not screen.query_one("#coverage").display
        assert "need two runs" in str(screen.query_one("#compare-notes").render())
        await pilot.press("p")
        await settle(pilot)
        assert len(app.screen.shown) == 12
        await pilot.press("enter", "enter")
        await settle(pilot)
        await pilot.press("d")  # diff within the one run
        await settle(pilot)
        assert isinstance(app.screen, DiffScreen)
        assert app.screen.right_run == app.run_a.id


async def test_errors_become_notifications(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(ProblemScreen(99999))
        await settle(pilot)
        assert app.is_running
        assert any(n.severity == "error" for n in app._notifications)


async def test_command_palette_offers_navigation(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Problems only base solves" in titles and "Live monitor" in titles
        command = next(c for c in app.get_system_commands(app.screen)
                       if c.title == "Problems only rl solves")
        command.callback()
        await settle(pilot)
        assert [line.idx for line in app.screen.shown] == [1]


def test_committed_demo_database_opens(tmp_path: Path) -> None:
    from reachscope.core.demo import demo_db_path

    copy = tmp_path / "demo.db"
    shutil.copyfile(demo_db_path(), copy)
    db = open_db(copy, read_only=True)
    assert list_runs(db)
    db.close()


def _ungrade(db_path: Path, *labels: str) -> None:
    """Runs as a sampler leaves them before its first grades: samples, no counts."""
    db = open_db(db_path)
    for label in labels:
        db.conn.execute("DELETE FROM counts WHERE run_id = (SELECT id FROM runs WHERE label = ?)",
                        [label])
    db.conn.commit()
    db.close()


async def test_compare_waits_for_a_run_without_grades_instead_of_failing(db_path: Path) -> None:
    """A sampler's second run has samples but no grades yet: the first run is compared alone
    and a note names the other; with no grades at all the plot says so. No error either way."""
    _ungrade(db_path, "rl")
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert screen.comparison is not None and screen.comparison.keys == ["base"]
        assert "rl: no grades yet" in screen.comparison.notes
        assert not [n for n in app._notifications if n.severity == "error"]

    _ungrade(db_path, "base")
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_screen(pilot)
        assert app.screen.comparison is None
        assert "base and rl: no grades yet" in screen_text(app)
        assert not [n for n in app._notifications if n.severity == "error"]
