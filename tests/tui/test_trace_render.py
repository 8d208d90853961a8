"""Long real traces at 80 columns (issue 9, point 5): wrapped display maths, a light LaTeX pass
with the raw text one key away, search with / and n, sample keys that leave the arrows to
scrolling, and TeX's ``quote'' pair kept in statements. Run on the shipped Qwen2.5-Math traces."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from reachscope.core import browse, latex
from reachscope.core.demo import demo_db_path
from reachscope.store import open_db
from reachscope.store.problems import problem_lines
from reachscope.store.runs import list_runs
from reachscope.store.samples import sample_text, samples_of_problem
from reachscope.tui.app import create_app
from reachscope.tui.screens.trace import TraceScreen
from reachscope.tui.widgets.trace_view import TraceView, trace_text
from rich.console import Console

from .helpers import settle


def test_to_unicode_common_commands() -> None:
    assert latex.to_unicode(r"\frac{1}{2} \times \sqrt{2}x \cdot \pi") == "1/2 × √2x · π"
    assert latex.to_unicode(r"\frac{x+1}{\sqrt{3}} \le r^{2}, a_{10} \ge \alpha") == \
        "(x+1)/√3 ≤ r², a₁₀ ≥ α"
    assert latex.to_unicode(r"120 \text{ minutes}") == "120  minutes"
    assert latex.to_unicode(r"\sqrt[3]{8} \neq \Omega") == "³√8 ≠ Ω"
    # Unknown commands are kept as written, argument included: nothing is lost.
    assert latex.to_unicode(r"\weird{x} + 1") == r"\weird{x} + 1"


def test_pieces_raw_round_trip_and_display_maths() -> None:
    text = "We get\n\\[\nx = \\frac{a}{b}\n\\]\nso $y \\le 2$ and \\boxed{4:30 \\text{ p.m.}}."
    raw = latex.pieces(text, unicode=False)
    assert "".join(p.text for p in raw) == text
    pretty = latex.pieces(text, answer_span=browse.final_boxed_span(text))
    assert [p.kind for p in pretty] == ["text", "display", "text", "inline", "text", "inline",
                                        "text"]
    assert pretty[1].text == "x = a/b" and pretty[3].text == "y ≤ 2"
    assert pretty[5].text == "[4:30 p.m.]" and pretty[5].answer


def test_tex_quote_pair_survives_statement_markdown() -> None:
    md = browse.trace_markdown("Bobbi asks, ``Are we there yet?'' Her mother")
    from markdown_it import MarkdownIt

    html = MarkdownIt().render(md)
    assert "``Are we there yet?''" in html and "<code>" not in html


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "demo.db"
    shutil.copyfile(demo_db_path(), dest)
    return dest


def _qwen_samples(path: Path) -> tuple[object, list, dict[int, str]]:
    db = open_db(path, read_only=True)
    try:
        run = next(r for r in list_runs(db) if "qwen" in r.label.lower())
        lines = problem_lines(db, run.dataset, [(run.id, "math")])
        samples = []
        for line in lines:
            samples += samples_of_problem(db, run.id, line.id, "math")
        texts = {s.id: sample_text(db, s.id) for s in samples}
    finally:
        db.close()
    return run, samples, texts


def test_every_shipped_qwen_trace_wraps_without_losing_text(demo_copy: Path) -> None:
    _, samples, texts = _qwen_samples(demo_copy)
    assert len(samples) >= 100 and max(len(t) for t in texts.values()) > 2000
    console = Console(width=76, color_system=None)
    with_display = 0
    for sample in samples:
        text = texts[sample.id]
        with_display += "\\[" in text
        for raw in (False, True):
            shown = trace_text(text, sample.answer, raw=raw)
            lines = shown.wrap(console, 76, overflow="fold")
            assert all(line.cell_len <= 76 for line in lines)
            # Wrapping only moves whitespace: every character shown is on some line.
            assert "".join("".join(x.plain for x in lines).split()) == \
                "".join(shown.plain.split())
        assert "".join(trace_text(text, raw=True).plain.split()) == "".join(text.split())
    assert with_display > 50


async def test_trace_at_80x24_scrolls_searches_and_steps(demo_copy: Path) -> None:
    run, samples, texts = _qwen_samples(demo_copy)
    # Problem #3's traces hold `\text{ minutes}` inside display maths.
    long = [s for s in samples if "\\text{ minutes}" in texts[s.id]][:3]
    assert long
    app = create_app(demo_copy, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(TraceScreen(long, 0))
        await settle(pilot)
        screen = app.screen
        view = screen.query_one(TraceView)
        assert "120 minutes" in view.plain and "\\text" not in view.plain
        assert app.focused is view
        # Arrows scroll, they do not change the sample.
        await pilot.press("right", "down", "left")
        await settle(pilot)
        assert screen.index == 0
        await pilot.press("slash", *"minutes", "enter")
        await settle(pilot)
        assert len(view.matches) >= 2 and view.current == 0 and app.focused is view
        await pilot.press("n")
        assert view.current == 1
        await pilot.press("N")
        assert view.current == 0
        await pilot.press("r")
        assert view.raw and "\\text{ minutes}" in view.plain
        await pilot.press("r")
        assert not view.raw
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert screen.index == 1 and screen.text == texts[long[1].id]
        # The search carries over to the next sample.
        assert view.matches and view.query_text == "minutes"
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert screen.index == 0
