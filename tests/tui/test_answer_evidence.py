"""Answer and likelihood evidence in the app at 80x24 (issues 11 and 12, the app half).

The Problem screen's per-run line (answer entropy, distinct answers, mode, maj@n, token
entropy), its PPL columns and PPL sort, the Problems screen's answers view and filters, and the
Diff header's PPL, each checked against values computed here straight from the store and the
core formulas (not from what the screens computed).
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from reachscope.core import answers as core_answers
from reachscope.core import browse
from reachscope.core.analysis import load_counts
from reachscope.core.evidence_report import load_run_answers
from reachscope.store import GradeIn, ProblemIn, RunSpec, SampleIn, open_db
from reachscope.store import answers as store_answers
from reachscope.store import scores as store_scores
from reachscope.store.grades import write_grades
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run, get_run
from reachscope.store.samples import samples_of_problem, write_samples
from reachscope.tui.app import create_app
from reachscope.tui.screens.diff import DiffScreen
from reachscope.tui.screens.problem import ProblemScreen
from reachscope.tui.screens.problems import ProblemsScreen
from textual.widgets import DataTable

from .helpers import demo_copy, press_keys, screen_text, settle


def _demo_scored_first(tmp_path: Path, first: int = 32) -> Path:
    """A demo copy whose lab samples are scored only for indices below ``first`` (the demo
    scores them all), so that scored and unscored samples sit side by side."""
    path = demo_copy(tmp_path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM scores WHERE sample_id IN "
                     "(SELECT id FROM samples WHERE sample_idx >= ?)", [first])
    conn.close()
    return path


def _report_answers(path: Path, label: str) -> dict[int, core_answers.AnswerDistribution]:
    """problem id -> answer distribution of a run, as `reachscope report` computes it."""
    db = open_db(path, read_only=True)
    try:
        run = get_run(db, label)
        ra = load_run_answers(db, load_counts(db, run, "math"), label)
        return dict(zip(ra.problem_ids, ra.distributions))
    finally:
        db.close()


def _scores(path: Path, sample_ids: list[int]) -> dict[str, dict[int, store_scores.ScoreIn]]:
    """scorer name -> sample id -> stored score."""
    db = open_db(path, read_only=True)
    try:
        return {s.name: store_scores.sample_scores(db, sample_ids, s.id)
                for s in store_scores.list_scorers(db)}
    finally:
        db.close()


async def test_problem_header_and_ppl_columns_on_the_demo(tmp_path: Path) -> None:
    path = _demo_scored_first(tmp_path)
    app = create_app(path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "p", "enter")  # problem #0 of the lab: base 218/256, rl 256/256
        screen = app.screen
        assert isinstance(screen, ProblemScreen)
        text = screen_text(app)
        base = app.run_a
        d = _report_answers(path, "base")[screen.problem_id]
        assert d.distinct == 3 and d.answered == 256
        stats = screen.stats[base.id]
        assert stats.distribution == d
        assert stats.maj_n == core_answers.maj_at_k(stats.clusters, 256) == 1.0
        expected = (f"base 218/256  H {d.entropy:.2f} ({d.normalized_entropy:.2f})  ans 3  "
                    f"mode {d.mode_share:.0%} ✓  maj@256 1.00")
        assert expected in text, text
        # Token entropy: the mean over base's scored samples under its own scorer (base).
        ids = [s.id for s in screen.samples if s.run_id == base.id]
        scores = _scores(path, [s.id for s in screen.samples])
        own = [v.mean_entropy for v in scores["base"].values()
               if v.sample_id in set(ids) and v.mean_entropy is not None]
        assert len(own) == 32  # this copy keeps the scores of the first 32 samples only
        assert f"tok H {sum(own) / len(own):.2f}" in text
        # A PPL column per scorer; the first row (base #0) shows exp(-mean log-prob).
        assert "ppl base" in text and "ppl rl" in text
        first = screen.shown[0]
        row = screen.query_one("#samples", DataTable).get_row_at(0)
        want = [browse.format_ppl(math.exp(-scores[name][first.id].mean_logprob))
                for name in ("base", "rl")]
        assert [str(c) for c in row[-2:]] == want
        line = next(ln for ln in text.splitlines() if f"base    {first.sample_idx}  " in ln)
        assert want[0] in line and want[1] in line, line
        # An unscored sample (index 32 and up) has blank PPL cells.
        unscored = next(i for i, s in enumerate(screen.shown) if s.sample_idx >= 32)
        assert [str(c) for c in screen.query_one("#samples", DataTable)
                .get_row_at(unscored)[-2:]] == ["", ""]


async def test_samples_sort_by_ppl_under_each_scorer(tmp_path: Path) -> None:
    path = _demo_scored_first(tmp_path)
    app = create_app(path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "p", "enter")
        screen = app.screen
        assert isinstance(screen, ProblemScreen)
        every = list(screen.shown)
        scores = _scores(path, [s.id for s in every])

        def ppl(name: str, sid: int) -> float | None:
            s = scores[name].get(sid)
            return None if s is None or s.mean_logprob is None else math.exp(-s.mean_logprob)

        for name, descending, words in (("base", False, "most likely"),
                                        ("base", True, "least likely"),
                                        ("rl", False, "most likely")):
            await press_keys(pilot, "o")
            assert screen.ppl_sort == (name, descending)
            values = [ppl(name, s.id) for s in screen.shown]
            scored = [v for v in values if v is not None]
            assert len(scored) == 64  # 32 per run
            assert values[:64] == scored, "unscored samples sort last"
            assert scored == sorted(scored, reverse=descending)
            assert sorted(s.id for s in screen.shown) == sorted(s.id for s in every)
            assert f"samples by PPL under {name}, {words} first" in screen_text(app)
        # "RL paths the base finds least likely": rl's (only) cluster, by PPL under base, high
        # first.
        await press_keys(pilot, "o", "o")  # rl high first, then back to the sample index
        assert screen.ppl_sort is None and screen.shown == every
        answers = screen.query_one("#answers", DataTable)
        answers.focus()
        rl_row = next(i for i in range(answers.row_count) if str(answers.get_row_at(i)[0]) == "rl")
        answers.move_cursor(row=rl_row)
        await press_keys(pilot, "enter", "o", "o")
        assert screen.ppl_sort == ("base", True)
        assert {s.run_id for s in screen.shown} == {app.run_b.id}
        top = [ppl("base", s.id) for s in screen.shown[:32]]
        assert None not in top and top == sorted(top, reverse=True)
        rl_scored = [v for v in (ppl("base", s.id) for s in every if s.run_id == app.run_b.id)
                     if v is not None]
        assert top[0] == max(rl_scored)


async def test_diff_header_shows_both_traces_ppl(tmp_path: Path) -> None:
    path = demo_copy(tmp_path)
    app = create_app(path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "p", "enter", "down", "d")  # base #1 (incorrect, 17) vs rl
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        scores = _scores(path, [screen.left_id, screen.right_id])
        parts = []
        for name in ("base", "rl"):
            left, right = (browse.format_ppl(math.exp(-scores[name][sid].mean_logprob))
                           for sid in (screen.left_id, screen.right_id))
            parts.append(f"{name} {left} | {right}")
        assert f"PPL {' · '.join(parts)}  (left | right)" in screen_text(app)


async def test_problems_answers_view_and_filters(db_path: Path) -> None:
    """The fixture: 12 problems, 8 samples per run, truncated samples are no-answer failures."""
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "p", "e")
        screen = app.screen
        assert isinstance(screen, ProblemsScreen) and screen.answers_view
        text = screen_text(app)
        header = next(ln for ln in text.splitlines() if ln.lstrip().startswith("#"))
        assert header.split()[:10] == ["#", "base", "c/n", "H", "ans", "cut", "rl", "c/n", "H",
                                       "ans"], header
        base, rl = app.run_a.id, app.run_b.id
        dist = {base: _report_answers(db_path, "base"), rl: _report_answers(db_path, "rl")}
        # Each row's entropy, distinct answers and truncated share, from a direct scan.
        db = open_db(db_path, read_only=True)
        samples = {(run, line.id): samples_of_problem(db, run, line.id, "math")
                   for line in screen.lines for run in (base, rl)}
        db.close()
        table = screen.query_one("#problems", DataTable)
        for i, line in enumerate(screen.shown):
            cells = [str(c) for c in table.get_row_at(i)]
            for run, at in ((base, 2), (rl, 6)):
                d, rows = dist[run][line.id], samples[(run, line.id)]
                cut = sum(s.finish_reason == "length" for s in rows) / len(rows)
                assert cells[at:at + 3] == [f"{d.entropy + 0.0:.2f}", str(d.distinct),
                                            f"{cut:.0%}"], (line.idx, cells)
        # Sorted by rl's entropy (s cycles idx, a, b, a_entropy, b_entropy).
        await press_keys(pilot, "s", "s", "s", "s")
        assert screen.query_state.sort == "b_entropy"
        got = [dist[rl][line.id].entropy for line in screen.shown]
        assert got == sorted(got) and len(got) == 12
        assert "sorted by rl entropy ↑" in screen_text(app)
        # "rl confidently wrong": core/answers.py's confidently_wrong on the same problems.
        pids = sorted(dist[rl])
        counts = {line.id: line.counts for line in screen.lines}
        want = core_answers.confidently_wrong(
            pids, [dist[rl][p] for p in pids], [counts[p][base][1] for p in pids]).ids
        assert want  # the fixture has some (p0: base 1/8, rl 0/8)
        await press_keys(pilot, "f", "f", "f", "f", "f")
        assert screen.query_state.evidence == "confidently_wrong"
        assert sorted(line.id for line in screen.shown) == sorted(want)
        text = screen_text(app)
        assert f"{len(want)} of 12 problems" in text and "rl confidently wrong" in text, text
        # Truncated failures: a sample not graded correct that stopped for length, either run.
        await press_keys(pilot, "f")
        assert screen.query_state.evidence == "truncated_failures"
        want = {pid for (run, pid), rows in samples.items()
                if any(s.finish_reason == "length" and s.verdict != "correct" for s in rows)}
        assert 0 < len(want) < 12
        assert {line.id for line in screen.shown} == want
        # Back to all problems: the evidence filter is off again.
        await press_keys(pilot, "f")
        assert screen.query_state.evidence == "none" and len(screen.shown) == 12


def _cluster_db(path: Path) -> None:
    """One problem, two runs of 6 samples: base answers 1/2, 0.5, 0.5, 2, 2, none; rl all 1/2.
    The grader's clusters put 0.5 with 1/2 (set as clustering would)."""
    db = open_db(path)
    with db.atomic():
        (pid,) = upsert_problems(db, "tiny", [ProblemIn(idx=0, prompt="Half of 1?",
                                                        answer="1/2")])
        plan = {"base": ["1/2", "0.5", "0.5", "2", "2", None], "rl": ["1/2"] * 6}
        for label, answers in plan.items():
            run, _ = get_or_create_run(db, RunSpec(label=label, dataset="tiny", model=label,
                                                   n_target=6, status="finished",
                                                   primary_grader="math"))
            write_samples(db, run, [SampleIn(pid, j, f"so \\boxed{{{a}}}",
                                             finish_reason="length" if a is None else "stop")
                                    for j, a in enumerate(answers)])
            ids = [s.id for s in samples_of_problem(db, run, pid, None)]
            write_grades(db, [GradeIn(sid, "math", "no_answer" if a is None else
                                      "correct" if a in ("1/2", "0.5") else "incorrect", a)
                              for sid, a in zip(ids, answers)])
            store_answers.set_clusters(db, "math", [(run, pid, a, "1/2") for a in ("1/2", "0.5")]
                                       + [(run, pid, "2", "2")])
    db.close()


async def test_answers_pane_groups_equivalent_answers(tmp_path: Path) -> None:
    path = tmp_path / "clusters.db"
    _cluster_db(path)
    app = create_app(path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "p", "enter")
        screen = app.screen
        assert isinstance(screen, ProblemScreen)
        answers = screen.query_one("#answers", DataTable)
        rows = [[str(c) for c in answers.get_row_at(i)] for i in range(answers.row_count)]
        assert rows == [["base", "1/2 +1", "3", "✓"], ["base", "2", "2", "✗"],
                        ["base", "—", "1", "✗"], ["rl", "1/2", "6", "✓"]], rows
        # Base: 5 answered in clusters of 3 and 2; the no-answer sample is apart.
        d = screen.stats[app.run_a.id].distribution
        p = (3 / 5, 2 / 5)
        assert d.distinct == 2 and d.answered == 5 and d.no_answer == 1
        assert math.isclose(d.entropy, -sum(x * math.log(x) for x in p))
        assert math.isclose(d.normalized_entropy, d.entropy / math.log(5))
        text = screen_text(app)
        assert f"base 3/6  H {d.entropy:.2f} ({d.normalized_entropy:.2f})  ans 2  mode 60% ✓" \
            in text, text
        assert "rl 6/6  H 0.00" in text
        # Picking the 1/2 cluster shows its samples of both forms.
        answers.focus()
        await press_keys(pilot, "enter")
        assert sorted(s.answer for s in screen.shown) == ["0.5", "0.5", "1/2"]
        # No scorer in this file: no PPL column, and the sort key says why.
        assert "ppl" not in text
        await pilot.press("o")
        await settle(pilot)
        assert screen.ppl_sort is None


async def test_unscored_run_of_a_scored_file_has_no_ppl_columns(tmp_path: Path) -> None:
    """The demo's Qwen traces (math-cot-100): the file has scorers, but they scored the lab runs
    only, so the Problem page shows no empty PPL columns and keeps chars and tokens."""
    app = create_app(demo_copy(tmp_path), poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        qwen = next(r for r in app.runs if r.label == "qwen-instruct")
        app.set_pair(qwen, None)
        await press_keys(pilot, "p", "enter")
        screen = app.screen
        assert isinstance(screen, ProblemScreen) and screen.samples
        assert screen.scorers == [] and screen.ppl == {}
        text = screen_text(app)
        assert "ppl" not in text and "chars" in text, text
        d = screen.stats[qwen.id].distribution
        n = len(screen.samples)
        assert f"qwen-instruct {sum(s.verdict == 'correct' for s in screen.samples)}/{n}" in text
        assert f"maj@{n} " in text and "tok H" not in text
        assert d.answered == sum(s.answer not in (None, "") for s in screen.samples)
        await pilot.press("o")
        await settle(pilot)
        assert screen.ppl_sort is None


async def test_confidently_wrong_matches_the_report_on_the_demo(tmp_path: Path) -> None:
    """The lab's rl vs base: the filter keeps exactly the report's confidently-wrong problems."""
    from reachscope.core.evidence_report import evidence

    path = demo_copy(tmp_path)
    db = open_db(path, read_only=True)
    runs = [get_run(db, "base"), get_run(db, "rl")]
    pair = evidence(db, [load_counts(db, r, "math") for r in runs], ["base", "rl"], [1],
                    resamples=10).pairs[0]
    db.close()
    assert pair.confidently_wrong is not None
    want = sorted(pair.confidently_wrong.ids)
    assert 0 < len(want) < 300
    app = create_app(path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "p", "f", "f", "f", "f", "f")
        screen = app.screen
        assert isinstance(screen, ProblemsScreen)
        assert sorted(line.id for line in screen.shown) == want
        assert f"{len(want)} of 300 problems" in screen_text(app)


async def test_ppl_order_stays_from_one_problem_to_the_next(tmp_path: Path) -> None:
    app = create_app(_demo_scored_first(tmp_path), poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "p", "enter", "o", "o")  # PPL under base, highest first
        screen = app.screen
        assert isinstance(screen, ProblemScreen) and screen.ppl_sort == ("base", True)
        first = screen.problem_id
        await press_keys(pilot, "escape", "down", "enter")
        assert app.screen is screen and screen.problem_id != first
        assert screen.ppl_sort == ("base", True)
        values = [screen.ppl[s.id]["base"] for s in screen.shown if s.id in screen.ppl]
        assert len(values) == 64 and values == sorted(values, reverse=True)
        assert [s.id in screen.ppl for s in screen.shown[:64]] == [True] * 64
        assert "samples by PPL under base, least likely first" in screen_text(app)
