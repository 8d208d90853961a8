"""One row per problem: c/n and pass@1 per run, their difference, level and subject; or, in the
answers view, c/n with each run's answer entropy, distinct answers and truncated share."""

from __future__ import annotations

from collections.abc import Sequence

from reachscope.core import browse
from reachscope.store.problems import ProblemLine
from rich.cells import cell_len

from .cells import Cell, right
from .paged_table import PagedTable


def _pct(v: float | None) -> Cell:
    return right(browse.format_number(v, ".2f"))


def _cn(line: ProblemLine, run_id: int | None) -> Cell:
    if run_id is None or run_id not in line.counts:
        return right("—")
    n, c = line.counts[run_id]
    return right(f"{c}/{n}", "" if c else "dim")


def problem_cells(line: ProblemLine, run_a: int, run_b: int | None,
                  meta_keys: Sequence[str] = ("level", "subject")) -> tuple[Cell, ...]:
    """The cells of one problem's row (a column per metadata key in ``meta_keys``)."""
    cells = [right(str(line.idx)), _cn(line, run_a), _pct(browse.pass1(line, run_a))]
    if run_b is not None:
        d = browse.delta(line, run_a, run_b)
        style = "" if d is None or d == 0 else "green" if d > 0 else "red"
        cells += [_cn(line, run_b), _pct(browse.pass1(line, run_b)),
                  right(browse.format_number(d, "+.2f"), style)]
    prompt = " ".join((line.prompt or "").split())
    cells += [Cell(line.meta_str(key).replace("Level ", "L")) for key in meta_keys]
    cells.append(Cell(prompt[:70]))
    return tuple(cells)


def _num(v: float | None, spec: str) -> Cell:
    # + 0.0: an entropy of one answer is -0.0 (a negated sum of zeros), shown as 0.00.
    return right("—" if v is None else format(v + 0.0, spec), "" if v is not None else "dim")


def answer_cells(line: ProblemLine, run_a: int, run_b: int | None,
                 stats: browse.StatsByRun | None) -> tuple[Cell, ...]:
    """The cells of one problem's row in the answers view: per run c/n, answer entropy (nats),
    distinct answers and the share of graded samples truncated, then the problem."""
    cells = [right(str(line.idx))]
    for run in (run_a, run_b) if run_b is not None else (run_a,):
        s = browse.stat_of(stats, run, line)
        d = browse.distinct_of(s)
        cells += [_cn(line, run), _num(browse.entropy_of(s), ".2f"),
                  _num(d, ".0f"), _num(browse.truncated_share_of(s), ".0%")]
    cells.append(Cell(" ".join((line.prompt or "").split())[:70]))
    return tuple(cells)


def answer_columns(label_a: str, label_b: str | None) -> list[tuple[str, str]]:
    """(header, sort key) of the answers view's columns: per run its c/n, then answer entropy
    (H, nats), distinct answers (ans) and the share of graded samples truncated (cut)."""
    columns = [("#", "idx")]
    for side, label in (("a", label_a), ("b", label_b)):
        if label is not None:
            # The run's label heads its c/n only: the three columns after it are that run's
            # (short headers leave the problem's text room at 80 columns).
            columns += [(f"{label} c/n", f"{side}_cn"), ("H", f"{side}_entropy"),
                        ("ans", f"{side}_distinct"), ("cut", f"{side}_trunc")]
    return columns + [("problem", "prompt")]


class ProblemTable(PagedTable):
    """The Problems table; row keys are problem ids, column keys are sort keys.

    Each problem's cells (and their widths) are built once per loaded set of lines and run pair,
    and reused by every filter and sort; a refilter replaces the rows and keeps the columns.
    """

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        #: problem id -> (the line its cells were built from, the cells, their widths)
        self._cells: dict[int, tuple[ProblemLine, tuple[Cell, ...], tuple[int, ...]]] = {}
        self._cells_for: tuple[object, ...] | None = None

    def show(self, lines: Sequence[ProblemLine], run_a: int, run_b: int | None, label_a: str,
             label_b: str | None, stats: browse.StatsByRun | None = None,
             answers: bool = False) -> None:
        """Show these lines; ``answers``: the answers view (``stats`` gives its values)."""
        meta_keys: tuple[str, ...] = ()
        if answers:
            columns = answer_columns(label_a, label_b if run_b is not None else None)
        else:
            columns = [("#", "idx"), (f"{label_a} c/n", "a_cn"), (f"{label_a} p@1", "a")]
            if run_b is not None:
                columns += [(f"{label_b} c/n", "b_cn"), (f"{label_b} p@1", "b"),
                            ("Δ", "delta")]
            # Only the metadata this dataset has: an empty column would eat the problem's text.
            meta_keys = tuple(browse.metadata_keys(lines))
            columns += [(key, key) for key in meta_keys] + [("problem", "prompt")]
        key = (run_a, run_b, meta_keys, answers, id(stats) if answers else None)
        if self._cells_for != key:
            self._cells, self._cells_for = {}, key
        cache = self._cells
        rows = []
        sizes = [tuple(cell_len(label) for label, _ in columns)]
        for line in lines:
            entry = cache.get(line.id)
            if entry is None or entry[0] is not line:  # reloaded lines carry new counts
                cells = (answer_cells(line, run_a, run_b, stats) if answers
                         else problem_cells(line, run_a, run_b, meta_keys))
                entry = cache[line.id] = (line, cells, tuple(cell_len(c.text) for c in cells))
            rows.append((entry[1], str(line.id)))
            sizes.append(entry[2])
        widths = [max(column) for column in zip(*sizes)]
        self.set_rows(columns, rows, self.cursor_row, widths)
