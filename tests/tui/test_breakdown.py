"""pass@k and coverage by a metadata field on Compare (issue 9, point 7): `m` cycles through the
fields the dataset has (the fixture: level, subject), then turns the breakdown off."""

from __future__ import annotations

import re
from pathlib import Path

from reachscope.tui.app import create_app
from reachscope.tui.screens.compare import CompareScreen
from reachscope.tui.widgets.footer import AppFooter
from textual.widgets._footer import FooterKey

from .helpers import demo_copy, press_keys, screen_text, settle_screen

#: By level, from the fixture's PLAN (8 samples a problem): Level 1 is problems 0, 5, 10 (base
#: 1, 8, 7 correct; rl 0, 8, 8), Level 2 is 1, 6, 11, ...; 0.0625 and 0.5625 print as .062/.562.
LEVEL_ROWS = [
    # level   probs  A@1      B@1      A@8      B@8      both  only A  only B  neither
    ["Level 1", "3", "0.667", "0.667", "1.000", "0.667", "2", "1", "0", "0"],
    ["Level 2", "3", "0.208", "0.458", "0.667", "1.000", "2", "0", "1", "0"],
    ["Level 3", "2", "0.062", "0.250", "0.500", "0.500", "1", "0", "0", "1"],
    ["Level 4", "2", "0.500", "1.000", "1.000", "1.000", "2", "0", "0", "0"],
    ["Level 5", "2", "0.562", "0.750", "1.000", "1.000", "2", "0", "0", "0"],
]


#: The side pane's scrollbar, drawn at the end of some lines.
_SCROLLBAR = re.compile(r"[\u2581-\u2588\u258f\u2594]+")


def _cells(line: str) -> list[str]:
    return _SCROLLBAR.sub(" ", line).split()


def _rows(text: str, first: str) -> list[list[str]]:
    """The table lines of the screen starting with ``first`` (a group value), split in cells."""
    out = []
    for line in text.splitlines():
        m = re.match(rf"\s*({re.escape(first)}\s\d+)\s+(.*)", line)
        if m:
            out.append([m.group(1), *_cells(m.group(2))])
    return out


async def test_m_breaks_pass_at_k_and_coverage_down_by_level_then_subject(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_screen(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        footer = {k.key: k.description for k in screen.query_one(AppFooter).query(FooterKey)}
        assert footer.get("m") == "By field"
        assert all(k.region.right <= 80 for k in screen.query(FooterKey))

        await pilot.press("m")
        await settle_screen(pilot)
        assert screen.breakdown_field == "level"
        text = screen_text(app)
        # Scrolled into view at 80x24: the title, the header and every level, nothing cut.
        assert "by level  (A = base, B = rl; m: next field)" in text, text
        assert re.search(r"level\s+probs\s+A@1\s+B@1\s+A@8\s+B@8\s+both\s+only A\s+only B\s+"
                         r"neither", text), text
        assert _rows(text, "Level") == LEVEL_ROWS, text

        await pilot.press("m")
        await settle_screen(pilot)
        assert screen.breakdown_field == "subject"
        text = screen_text(app)
        assert "by subject" in text
        # Problems i % 4: Algebra is 0, 4, 8 (base 1, 5, 6 of 8; rl 0, 7, 8).
        algebra = next(line for line in text.splitlines() if line.strip().startswith("Algebra"))
        assert _cells(algebra)[1:] == ["3", "0.500", "0.625", "1.000", "0.667",
                                       "2", "1", "0", "0"], text

        await pilot.press("m")
        await settle_screen(pilot)
        assert screen.breakdown_field is None
        assert not screen.query_one("#breakdown").display

        # Still there after the comparison is recomputed (a new coverage k).
        await pilot.press("m", "plus")
        await settle_screen(pilot)
        assert screen.breakdown_field == "level" and screen.query_one("#breakdown").display


async def test_lab_breaks_down_by_difficulty_at_80x24(tmp_path: Path) -> None:
    app = create_app(demo_copy(tmp_path), poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "m")
        text = screen_text(app)
        assert "by difficulty" in text, text
        rows = [_cells(line) for line in text.splitlines()
                if re.match(r"\s*[1-6]\s+50\s", line)]
        # Six difficulties of 50 problems, pass@1 and pass@256 of both runs, then coverage
        # summing to 50.
        assert [r[0] for r in rows] == ["1", "2", "3", "4", "5", "6"], text
        assert all(len(r) == 10 and sum(int(x) for x in r[6:]) == 50 for r in rows), rows
        await press_keys(pilot, "m")  # the lab has no other field: the breakdown goes off
        assert app.screen.breakdown_field is None
