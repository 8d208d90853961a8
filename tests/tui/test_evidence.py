"""Compare's evidence (issue 11), trajectory (11), likelihood (12) and validated curve (13) views:
what they show equals the core functions computed directly on the same file, a transition cell
lists exactly its problems (by index) and Enter opens one, the trajectory key exists with three
runs on the dataset, and the PPL histogram counts every stored score."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from reachscope.core import analysis, metrics
from reachscope.core.browse import format_number
from reachscope.core.cli import cli
from reachscope.core.evidence import accuracy_bin, budget_differences
from reachscope.core.evidence_report import evidence
from reachscope.core.review import cot_pass_at_k, pass_at_k_real
from reachscope.core.trajectory import trajectory
from reachscope.core.validated import validated_curves
from reachscope.store import RunSpec, SampleIn, open_db
from reachscope.store import review as store_review
from reachscope.store import scores as store_scores
from reachscope.store.annotations import set_label
from reachscope.store.runs import get_or_create_run, list_runs
from reachscope.store.samples import write_samples
from reachscope.tui.app import create_app
from reachscope.tui.screens.compare import CompareScreen
from reachscope.tui.screens.evidence import EvidenceScreen
from reachscope.tui.screens.likelihood import LikelihoodScreen
from reachscope.tui.screens.problem import ProblemScreen
from reachscope.tui.screens.trajectory import TrajectoryScreen
from reachscope.tui.widgets.passk_plot import PassKPlot
from reachscope.tui.widgets.ppl_plot import PPLPlot
from reachscope.tui.widgets.trajectory_plot import TrajectoryPlot
from reachscope.tui.widgets.transition_table import TransitionTable
from textual.widgets import DataTable, Static
from textual.widgets._footer import FooterKey

from . import evidence_db
from .helpers import demo_copy, press_keys, screen_text, settle

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture
def steps_db(tmp_path: Path) -> Path:
    path = tmp_path / "steps.db"
    evidence_db.build(path)
    return path


def direct(path: Path, labels: tuple[str, str]):  # noqa: ANN201
    """The comparison and evidence of two runs, computed as the report does."""
    db = open_db(path, read_only=True)
    by_label = {r.label: r for r in list_runs(db)}
    runs = [by_label[label] for label in labels]
    cmp = analysis.compare(db, runs, ks=metrics.log2_ks(max(r.n_max for r in [
        analysis.load_counts(db, run) for run in runs])), bootstrap=0)
    return db, cmp, evidence(db, cmp.runs, cmp.keys, cmp.ks, resamples=1000)


def rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def assert_no_sideways(screen) -> None:  # noqa: ANN001
    """Readable at 80 columns: no shown table scrolls sideways."""
    for table in screen.query(DataTable):
        if table.display:
            assert table.virtual_size.width <= table.scrollable_content_region.width, table


def text_of(screen, selector: str) -> str:  # noqa: ANN001
    return str(screen.query_one(selector, Static).content)


@pytest.mark.parametrize("size", SIZES)
async def test_evidence_shows_the_reports_figures(tmp_path: Path, size: tuple[int, int]) -> None:
    path = demo_copy(tmp_path)
    _, cmp, ev = direct(path, ("base", "rl"))
    (pair,) = ev.pairs
    app = create_app(path, poll_interval=0)
    async with app.run_test(size=size) as pilot:
        await press_keys(pilot, "e")
        screen = app.screen
        assert isinstance(screen, EvidenceScreen)
        head = text_of(screen, "#evidence-pair")
        s, gap = pair.support, pair.efficiency_gap
        assert f"P {s.preserved}  E {s.expanded}  S {s.shrunk}  O {s.out}" in head
        assert f"p ≤ {pair.detection_floor['base']:.4f} (95%)" in head
        assert f"= {gap.gap:+.3f}" in head
        assert f"pass@{gap.k}(base) {gap.base_pass_at_k:.3f}" in head
        assert "budget parity: same n, max_tokens, sampling and prompt" in head
        support = rows(screen.query_one("#evidence-support", DataTable))
        for row, name in zip(support, ("srr", "ndr", "sds", "nscr")):
            ci = pair.support_intervals[name]
            assert row == [name.upper(), format_number(getattr(s, name)),
                           f"[{ci.low:+.3f}, {ci.high:+.3f}]"]
        curves = rows(screen.query_one("#evidence-curves", DataTable))
        assert [r[0] for r in curves] == [str(k) for k in cmp.ks]
        # The demo's review queue carries the lab step checker's labels: each run's plain and
        # CoT-pass@k on its reviewed problems follow, as report --validated computes them.
        db = open_db(path, read_only=True)
        validated = validated_curves(db, cmp.runs, cmp.keys, cmp.ks)
        db.close()
        assert [v.key for v in validated] == ["base", "rl"]
        for i, row in enumerate(curves):
            expected = []
            for r in ev.runs:
                expected += [f"{cmp.curves[r.key][i]:.3f}", f"{r.maj_at_k[i]:.3f}"]
            for v in validated:
                expected += [format_number(float(v.plain[i])),
                             format_number(float(v.estimate[i]))]
            assert row[1:] == expected
        plotted = screen.plotted
        assert list(plotted) == ["pass A", "maj A", "pass B", "maj B"]
        for letter, r in zip("AB", ev.runs):
            assert plotted[f"pass {letter}"].tolist() == cmp.curves[r.key].tolist()
            assert plotted[f"maj {letter}"].tolist() == r.maj_at_k.tolist()
        assert_no_sideways(screen)
        await press_keys(pilot, "y")  # the plot's y axis from 0 to 1, same curves
        assert screen.query_one(PassKPlot).full_range and list(screen.plotted) == list(plotted)
        # Every footer key fits; the evidence keys are in the footer and in `?`.
        keys = {k.key: k for k in screen.query(FooterKey)}
        assert {"l", "question_mark", "escape"} <= keys.keys()
        assert keys["t"].has_class("-disabled")  # two runs on the dataset: no trajectory
        assert all(k.region.right <= size[0] for k in keys.values())
        await press_keys(pilot, "question_mark")
        text = screen_text(app)
        assert "Likelihood: log PPL histograms" in text


async def test_budget_parity_and_a_transition_cell_lists_its_problems_by_index(
        steps_db: Path) -> None:
    db, cmp, ev = direct(steps_db, ("base", "rl-step400"))
    a, b = cmp.runs
    expected_parity = budget_differences(a.run.params, b.run.params, ("base", "rl-step400"))
    assert expected_parity == ["rl-step400 sampled with max_tokens 3072, base with 1024"]
    idx = {pid: evidence_db.idx_of(i) for i, pid in enumerate(a.problem_ids)}
    assert any(pid != i for pid, i in idx.items())
    # The cells, from the counts, by hand.
    cells: dict[tuple[int, int], list[int]] = {}
    for pid, na, ca, nb, cb in zip(a.problem_ids, a.n, a.c, b.n, b.c):
        cells.setdefault((accuracy_bin(int(na), int(ca)), accuracy_bin(int(nb), int(cb))),
                         []).append(pid)
    app = create_app(steps_db, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "e")
        screen = app.screen
        assert isinstance(screen, EvidenceScreen)
        assert "⚠ budget parity: " + expected_parity[0] in text_of(screen, "#evidence-pair")
        table = screen.query_one(TransitionTable)
        assert app.focused is table
        for (i, j), ids in cells.items():
            shown = [[str(c) for c in table.get_row_at(r)] for r in range(12)]
            assert shown[i][j + 1] == str(len(ids))
        assert sum(int(c) for r in range(12) for c in list(table.get_row_at(r))[1:]
                   if str(c) != "·") == len(a.problem_ids)
        # Walk the cursor to the base 0 -> rl .4 cell (problem idx 100: base 0/8, rl 3/8).
        target = (0, 4)
        assert cells[target] and len(cells[target]) == 1
        table.move_cursor(row=0, column=1)
        await settle(pilot)
        for _ in range(target[1]):
            await pilot.press("right")
        await settle(pilot)
        listing = screen.query_one("#cell-problems", DataTable)
        assert rows(listing) == [[str(idx[p]), f"{int(a.c[k])}/8", f"{int(b.c[k])}/8"]
                                 for p in cells[target] for k in [a.problem_ids.index(p)]]
        assert "base 0 → rl-step400 .4: 1 problem" in text_of(screen, "#cell-title")
        # A cell of two or more problems: Enter on it, then on its second problem.
        two = next(ij for ij, ids in cells.items() if len(ids) >= 2)
        table.move_cursor(row=two[0], column=two[1] + 1)
        await settle(pilot)
        assert [r[0] for r in rows(listing)] == [str(idx[p]) for p in cells[two]]
        await pilot.press("enter")  # on the cell: its list takes focus
        await settle(pilot)
        assert app.focused is listing
        await pilot.press("down", "enter")  # the second problem opens
        await settle(pilot)
        assert isinstance(app.screen, ProblemScreen)
        assert app.screen.problem_id == cells[two][1]
    db.close()


def cursor_line(table: TransitionTable) -> int:
    """The screen line the transition table's cursor row is drawn on."""
    return table.region.y + table.header_height + table.cursor_row - round(table.scroll_y)


async def test_the_pane_follows_the_transition_cursor_at_80x24(tmp_path: Path) -> None:
    """The matrix is taller than what 80x24 leaves below the head: moving the cursor down to
    the last row scrolls the pane so that the cursor stays on screen, and back up to the first
    row shows it with the header; the screen opens at its top (the parity line)."""
    app = create_app(demo_copy(tmp_path), poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "e")
        screen = app.screen
        assert isinstance(screen, EvidenceScreen)
        body = screen.query_one("#evidence-body")
        table = screen.query_one(TransitionTable)
        assert app.focused is table and body.scroll_y == 0
        assert "budget parity" in screen_text(app).splitlines()[1]
        view = body.scrollable_content_region
        assert cursor_line(table) < view.bottom
        # The last row is below the pane before any key.
        assert table.region.y + table.header_height + 11 >= view.bottom
        for _ in range(11 - table.cursor_row):
            await pilot.press("down")
            await settle(pilot)
            assert view.y <= cursor_line(table) < view.bottom, table.cursor_row
        assert table.cursor_row == 11 and body.scroll_y > 0
        for _ in range(11):
            await pilot.press("up")
            await settle(pilot)
            assert view.y <= cursor_line(table) < view.bottom, table.cursor_row
        assert table.cursor_row == 0 and table.region.y >= view.y  # the header too


@pytest.mark.parametrize("size", SIZES)
async def test_trajectory_with_three_runs_in_checkpoint_order(
        steps_db: Path, size: tuple[int, int]) -> None:
    db = open_db(steps_db, read_only=True)
    expected = trajectory(db, list_runs(db))
    db.close()
    assert [r.key for r in expected.rows] == ["base", "rl-step100", "rl-step400"]
    app = create_app(steps_db, poll_interval=0)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert "t: trajectory of the 3 runs on toy-steps" in text_of(app.screen, "#compare-notes")
        await press_keys(pilot, "t")
        screen = app.screen
        assert isinstance(screen, TrajectoryScreen)
        table = rows(screen.query_one("#trajectory-table", DataTable))
        assert [r[0] for r in table] == ["base", "rl-step100", "rl-step400"]
        for row, want in zip(table, expected.rows):
            assert row[1] == ("-" if want.step is None else str(want.step))
            assert row[2:5] == [f"{want.pass_at_1:.3f}", f"{want.pass_at_k:.3f}",
                                f"{want.dse:+.3f}"]
            if want.coverage is not None:
                assert row[5:8] == [str(len(want.coverage.both)), str(len(want.coverage.only_a)),
                                    str(len(want.coverage.only_b))]
            assert row[8] == f"{want.mean_entropy:.3f}"
        assert_no_sideways(screen)
        plot = screen.query_one(TrajectoryPlot)
        assert plot.names == ["base", "rl-step100", "rl-step400"]
        assert plot.lines == {"pass@1": [r.pass_at_1 for r in expected.rows],
                              f"pass@{expected.k}": [r.pass_at_k for r in expected.rows]}
        await press_keys(pilot, "escape", "e", "t")  # also from the evidence screen
        assert isinstance(app.screen, TrajectoryScreen)


async def test_trajectory_leaves_out_a_run_without_grades(steps_db: Path) -> None:
    db = open_db(steps_db)
    with db.atomic():  # a checkpoint being sampled: samples, no grades yet
        run_id, _ = get_or_create_run(db, RunSpec("rl-step800", evidence_db.DATASET,
                                                  model="m/rl-step800", status="running"))
        pid = db.execute("SELECT id FROM problems WHERE dataset = ? LIMIT 1",
                         [evidence_db.DATASET]).fetchone()[0]
        write_samples(db, run_id, [SampleIn(pid, 0, "not graded yet")])
    db.close()
    app = create_app(steps_db, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "t")
        screen = app.screen
        assert isinstance(screen, TrajectoryScreen) and len(screen.runs) == 4
        table = rows(screen.query_one("#trajectory-table", DataTable))
        assert [r[0] for r in table] == ["base", "rl-step100", "rl-step400"]
        assert text_of(screen, "#trajectory-notes").startswith(
            "left out, no grades yet: rl-step800. against base")


async def test_no_trajectory_key_with_two_runs(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    evidence_db.build(path, runs=("base", "rl-step400"))
    app = create_app(path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "t")
        assert isinstance(app.screen, CompareScreen)
        assert "trajectory" not in text_of(app.screen, "#compare-notes")
        await press_keys(pilot, "question_mark")  # listed, with what it needs
        listed = dict((d, k) for k, d in app.screen.keys)
        assert listed["Checkpoint trajectory (3+ runs on a dataset)"] == "t"
        assert listed["Evidence: support, dSE, maj@k, transitions"] == "e"


@pytest.mark.parametrize("size", SIZES)
async def test_ppl_histogram_counts_every_score(tmp_path: Path, size: tuple[int, int]) -> None:
    path = demo_copy(tmp_path)
    db = open_db(path, read_only=True)
    runs = {r.label: r for r in list_runs(db)}
    values = {}
    for scorer in store_scores.list_scorers(db):
        for label in ("base", "rl"):
            values[f"PPL_{scorer.name}(Y_{label})"] = np.array(
                [-s.mean_logprob for s in store_scores.scored_samples(db, runs[label].id,
                                                                      scorer.id)])
    db.close()
    # The demo scores every lab sample (300 problems x 256) under both lab models.
    assert len(values) == 4 and all(v.size == 256 * 300 for v in values.values())
    app = create_app(path, poll_interval=0)
    async with app.run_test(size=size) as pilot:
        await press_keys(pilot, "l")
        screen = app.screen
        assert isinstance(screen, LikelihoodScreen)
        hist = screen.query_one(PPLPlot).shown
        assert hist is not None and set(hist.counts) == set(values)
        pooled = np.concatenate(list(values.values()))
        top = np.quantile(pooled, 0.99)  # the range's end: the tail counts in the last bin
        assert hist.edges[0] == pooled.min() and hist.edges[-1] == top
        for name, v in values.items():
            assert hist.counts[name].tolist() == np.histogram(
                np.minimum(v, top), bins=hist.edges)[0].tolist()
            assert int(hist.counts[name].sum()) == v.size
            assert hist.above[name] == int(np.sum(v > top))
        assert sum(hist.above.values()) > 0  # the demo has a tail
        assert_no_sideways(screen)
        table = rows(screen.query_one("#ppl-table", DataTable))
        for row in table:
            v = values[f"PPL_{row[0]}(Y_{row[1]})"]
            q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
            assert row[2] == str(v.size) and row[3] == f"{med:.3f} [{q1:.3f}, {q3:.3f}]"
        await press_keys(pilot, "s")  # one scorer's cells
        assert set(screen.query_one(PPLPlot).shown.counts) == {  # type: ignore[union-attr]
            "PPL_base(Y_base)", "PPL_base(Y_rl)"}


async def test_likelihood_says_when_there_are_no_scores_then_shows_them(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "e", "l")
        screen = app.screen
        assert isinstance(screen, LikelihoodScreen)
        text = screen_text(app)
        assert "No scores: no sample of base, rl is scored yet." in text
        assert "`reachscope score DB --scorer" in text, text
        assert not screen.query_one(PPLPlot).display
        # Scores arrive (one sample failed to score): ctrl+r shows them.
        db = open_db(db_path)
        base = next(r for r in list_runs(db) if r.label == "base")
        sids = [sid for sid, in db.execute(
            "SELECT id FROM samples WHERE run_id = ? ORDER BY id", [base.id])]
        with db.atomic():
            scorer = store_scores.ensure_scorer(db, "base", "m/base", "hf", {})
            store_scores.write_scores(db, scorer, [
                store_scores.ScoreIn(sid, 10, -(1 + i % 7) / 10 * 10, -(1 + i % 7) / 10)
                for i, sid in enumerate(sids[1:])] + [
                store_scores.ScoreIn(sids[0], None, None, None, error="too long")])
        db.close()
        await press_keys(pilot, "ctrl+r")
        hist = screen.query_one(PPLPlot).shown
        assert hist is not None and list(hist.counts) == ["PPL_base(Y_base)"]
        expected = np.array([(1 + i % 7) / 10 for i in range(len(sids) - 1)])
        assert hist.counts["PPL_base(Y_base)"].tolist() == np.histogram(
            np.minimum(expected, hist.edges[-1]), bins=hist.edges)[0].tolist()
        assert int(hist.counts["PPL_base(Y_base)"].sum()) == len(sids) - 1
        assert "No scores" not in screen_text(app)


async def test_validated_curve_beside_the_plain_one(steps_db: Path) -> None:
    result = CliRunner().invoke(cli, ["review", str(steps_db), "--runs", "base", "rl-step400",
                                      "--max-accuracy", "0.5", "--per-problem", "2"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    app = create_app(steps_db, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await press_keys(pilot, "e")  # a queue, no labels yet: no validated column
        screen = app.screen
        table = screen.query_one("#evidence-curves", DataTable)
        assert not any(str(c.label).startswith(("CoT", "rev")) for c in table.columns.values())
        await press_keys(pilot, "c")  # nothing to switch to (a notification says why)
        assert list(screen.plotted) == ["pass A", "maj A", "pass B", "maj B"]
        # A reviewer labels: the first rl item valid, the second flawed, the rest unreviewed.
        db = open_db(steps_db)
        (queue,) = store_review.list_queues(db)
        items = store_review.queue_items(db, queue.id)
        rl_id = next(r.id for r in list_runs(db) if r.label == "rl-step400")
        rl_items = [it for it in items if it.run_id == rl_id]
        assert len(rl_items) >= 2
        set_label(db, rl_items[0].sample_id, "valid", reviewer="ann")
        set_label(db, rl_items[1].sample_id, "flawed", reviewer="ann")
        db.close()
        _, cmp, _ = direct(steps_db, ("base", "rl-step400"))
        b = cmp.runs[1]
        nc = dict(zip(b.problem_ids, zip(b.n.tolist(), b.c.tolist())))
        judged = {p: sum(it.problem_id == p for it in rl_items[:2]) for p in nc}
        valid = {p: int(rl_items[0].problem_id == p) for p in nc}
        hand = [(n, c, judged[p], valid[p]) for p in queue.selection["problems"] if p in nc
                for n, c in [nc[p]]]
        # The estimate, on the problems with a judged sample, as report --validated
        # gives it: each problem's valid fraction of its judged samples applied to its c.
        hand = [h for h in hand if h[2] > 0]
        estimate = np.array([np.mean([pass_at_k_real(n, c * v / j, k) for n, c, j, v in hand])
                             for k in cmp.ks])
        plain = metrics.pass_at_k_curve([h[0] for h in hand], [h[1] for h in hand], cmp.ks)
        lower = cot_pass_at_k(hand, cmp.ks, "invalid")[0]
        upper = metrics.pass_at_k_curve([n for n, *_ in hand],
                                        [v + c - j for n, c, j, v in hand], cmp.ks)[0]
        assert lower <= estimate[0] <= upper and not math.isnan(estimate[0])
        report = CliRunner().invoke(cli, ["report", str(steps_db), "--runs", "base",
                                          "--runs", "rl-step400", "--validated", "--format",
                                          "json"], catch_exceptions=False)
        assert report.exit_code == 0, report.output
        shown = json.loads(report.output)["validated"]["runs"]["rl-step400"]
        assert shown["reviewed"] == len(hand)
        assert shown["estimate"][0] == pytest.approx(estimate[0], rel=1e-12)

        await press_keys(pilot, "ctrl+r")  # re-read: the labels are there
        header = [str(c.label) for c in table.columns.values()]
        assert header[-2:] == ["rev B", "CoT B"] and "CoT A" not in header
        assert [r[-1] for r in rows(table)] == [format_number(float(x)) for x in estimate]
        assert [r[-2] for r in rows(table)] == [format_number(float(x)) for x in plain]
        await press_keys(pilot, "c")  # the plot shows the validated pair
        assert list(screen.plotted) == ["rev B", "CoT B"]
        np.testing.assert_array_equal(screen.plotted["CoT B"], estimate)  # NaN where n' < k
        np.testing.assert_array_equal(screen.plotted["rev B"], plain)
        notes = text_of(screen, "#evidence-validated")
        assert f"CoT rl-step400: {len(hand)} reviewed problems, 2 of " in notes
        assert f"CoT-pass@1 {estimate[0]:.3f} in [{lower:.3f}, {upper:.3f}]" in notes


LAZY_CHECK = """
import asyncio, sys
from reachscope.tui.app import create_app
from tests.tui.helpers import settle_screen

async def main():
    app = create_app(sys.argv[1], poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_screen(pilot)
        assert app.screen.comparison is not None  # the curves are drawn
        print(" ".join(sorted(m for m in sys.modules if m.startswith("reachscope"))))

asyncio.run(main())
"""


def test_compare_cold_start_loads_none_of_the_evidence_code(tmp_path: Path) -> None:
    """The new views are computed when opened: a fresh app showing Compare has not imported
    their screens nor the evidence, trajectory, likelihood or review code."""
    import subprocess
    import sys

    path = demo_copy(tmp_path)
    out = subprocess.run([sys.executable, "-c", LAZY_CHECK, str(path)], capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parents[2], check=True).stdout
    loaded = set(out.split())
    assert "reachscope.tui.screens.compare" in loaded and "reachscope.core.analysis" in loaded
    for module in ("tui.screens.evidence", "tui.screens.trajectory", "tui.screens.likelihood",
                   "core.evidence_report", "core.trajectory", "core.validated",
                   "core.commands.score", "core.likelihood"):
        assert f"reachscope.{module}" not in loaded, module


def test_count_ticks_are_whole_and_the_least_1_2_5_step_that_reaches_the_top() -> None:
    from reachscope.tui.widgets.ppl_plot import count_ticks

    steps = [m * 10 ** e for e in range(6) for m in (1, 2, 5)]
    for top in range(0, 20001):
        ticks = count_ticks(top)
        assert ticks[0] == 0 and ticks[-1] >= max(top, 1) and len(ticks) <= 5, top
        step = ticks[1] - ticks[0]
        assert all(b - a == step for a, b in zip(ticks, ticks[1:])), top
        assert ticks[-1] - step < max(top, 1), top  # no tick past the one that covers top
        assert step in steps, top
        assert all(s * 4 < top for s in steps if s < step), top  # no smaller step would do
