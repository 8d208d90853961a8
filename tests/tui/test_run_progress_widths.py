"""Live's progress table widens its columns as the counts grow (nothing cut at 80 columns)."""

from __future__ import annotations

from datetime import UTC, datetime

from reachscope.store.runs import RunProgress
from reachscope.tui.widgets.run_progress import RunProgressTable
from textual.app import App, ComposeResult
from textual.widgets.data_table import ColumnKey

from .helpers import screen_text


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield RunProgressTable()


def _progress(samples: int, graded: int) -> RunProgress:
    return RunProgress(run_id=1, label="rl", status="running", problems=10, n_target=480,
                       samples=samples, graded=graded, correct=graded // 2, grader="math",
                       updated_at=datetime.now(UTC).isoformat(), writer={})


async def test_columns_grow_with_their_cells() -> None:
    app = _Host()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(RunProgressTable)
        table.observe([_progress(0, 0)], at=0.0)
        await pilot.pause()
        table.observe([_progress(2368, 2300)], at=10.0)
        await pilot.pause()
        wide = "2,368 / 4,800 (49%)"
        assert str(table.get_cell("1", "samples")) == wide
        assert table.columns[ColumnKey("samples")].content_width >= len(wide)
        assert wide in screen_text(app)
