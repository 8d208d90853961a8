"""One row per problem: c/n and pass@1 per run, their difference, level and subject."""

from __future__ import annotations

from collections.abc import Sequence

from reachscope.core import browse
from reachscope.store.views import ProblemLine
from rich.text import Text
from textual.widgets import DataTable


def _pct(v: float | None) -> Text:
    return Text("—" if v is None else f"{v:.2f}", justify="right")


def _cn(line: ProblemLine, run_id: int | None) -> Text:
    if run_id is None or run_id not in line.counts:
        return Text("—", justify="right")
    n, c = line.counts[run_id]
    return Text(f"{c}/{n}", style="" if c else "dim", justify="right")


class ProblemTable(DataTable):
    """The Problems table; row keys are problem ids, column keys are sort keys."""

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def show(self, lines: Sequence[ProblemLine], run_a: int, run_b: int | None, label_a: str,
             label_b: str | None) -> None:
        current = self.cursor_row
        self.clear(columns=True)
        self.add_column("#", key="idx")
        self.add_column(f"{label_a} c/n", key="a_cn")
        self.add_column(f"{label_a} p@1", key="a")
        if run_b is not None:
            self.add_column(f"{label_b} c/n", key="b_cn")
            self.add_column(f"{label_b} p@1", key="b")
            self.add_column("Δ", key="delta")
        self.add_column("level", key="level")
        self.add_column("subject", key="subject")
        self.add_column("problem", key="prompt")
        rows = []
        for line in lines:
            cells: list[object] = [Text(str(line.idx), justify="right"), _cn(line, run_a),
                                   _pct(browse.pass1(line, run_a))]
            if run_b is not None:
                d = browse.delta(line, run_a, run_b)
                style = "" if d is None or d == 0 else "green" if d > 0 else "red"
                cells += [_cn(line, run_b), _pct(browse.pass1(line, run_b)),
                          Text("—" if d is None else f"{d:+.2f}", style=style, justify="right")]
            prompt = " ".join((line.prompt or "").split())
            cells += [line.meta_str("level").replace("Level ", "L"), line.meta_str("subject"),
                      prompt[:70]]
            rows.append((cells, line.id))
        for cells, key in rows:
            self.add_row(*cells, key=str(key))
        if self.row_count:
            self.move_cursor(row=min(current, self.row_count - 1))
