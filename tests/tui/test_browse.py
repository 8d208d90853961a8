"""core.browse and the store entity modules: the logic behind the screens, without the UI."""

from __future__ import annotations

from pathlib import Path

from reachscope.core import browse
from reachscope.store import open_db
from reachscope.store.grades import answer_groups
from reachscope.store.problems import problem_lines
from reachscope.store.runs import run_progress


def test_word_diff_round_trips_and_marks_changes() -> None:
    a = "First  we factor.\n\nSo $x = 3$ and \\boxed{3}\n"
    b = "First we expand.\n\nSo $x = 4$ and \\boxed{4}"
    chunks = browse.word_diff(a, b)
    assert "".join(t for c in chunks for t in c.left) == a
    assert "".join(t for c in chunks for t in c.right) == b
    changed = [("".join(c.left).split(), "".join(c.right).split())
               for c in chunks if c.op != "equal"]
    assert (["factor."], ["expand."]) in changed and (["3$"], ["4$"]) in changed


def test_most_similar_prefers_the_shared_path() -> None:
    text = "factor the quadratic then apply vieta to get 7"
    best, sim = browse.most_similar(text, {1: "draw a triangle and use sines",
                                           2: "factor the quadratic then apply vieta to get 8"})
    assert best == 2 and 0.5 < sim < 1.0
    assert browse.most_similar(text, {}) == (None, 0.0)


def test_trace_markdown_keeps_latex_and_marks_the_answer() -> None:
    text = ("Use \\{a\\} and $a_1 * b_2$.\n$$\\frac{1}{2}$$\n"
            "So the answer is $\\boxed{\\frac{1}{2}}$.")
    md = browse.trace_markdown(text, "\\frac{1}{2}")
    assert "\\\\{a\\\\}" in md  # escaped so Markdown shows the backslash
    assert "`$a_1 * b_2$`" in md
    assert "```latex\n\\frac{1}{2}\n```" in md
    assert "**`$\\boxed{\\frac{1}{2}}$`** **◀ final answer**" in md
    assert browse.final_boxed_span("x \\boxed{a{b}c} y") == (2, 15)


def test_select_problems_filters_and_sorts(db_path: Path) -> None:
    db = open_db(db_path, read_only=True)
    lines = problem_lines(db, "math-mini", [(1, "math"), (2, "math")])
    db.close()
    q = browse.ProblemQuery(category="only_a")
    assert [p.idx for p in browse.select_problems(lines, q, 1, 2)] == [0]
    q = browse.ProblemQuery(sort="delta", reverse=True, meta=("level", "Level 4"))
    got = browse.select_problems(lines, q, 1, 2)
    assert {p.meta_str("level") for p in got} == {"Level 4"}
    deltas = [browse.delta(p, 1, 2) for p in got]
    assert deltas == sorted(deltas, reverse=True)
    assert browse.metadata_values(lines)[0] == ("level", "Level 1")


def test_rate_meter_and_eta() -> None:
    meter = browse.RateMeter(window_s=10)
    assert meter.rate is None and meter.eta_s(100) is None
    meter.observe(0.0, 0)
    meter.observe(2.0, 20)
    assert meter.rate == 10.0 and meter.eta_s(100) == 8.0
    assert browse.format_duration(3725) == "1h02m" and browse.format_duration(None) == "—"


def test_views_answer_groups_and_progress(live_db_path: Path) -> None:
    db = open_db(live_db_path, read_only=True)
    groups = answer_groups(db, 1, 1, "math")
    assert sum(g.count for g in groups) == 8
    assert [g.verdict for g in groups if g.answer == "10"] == ["correct"]
    progress = run_progress(db, 3)
    assert (progress.samples, progress.target, progress.status) == (24, 96, "running")
    db.close()
