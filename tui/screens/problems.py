"""Problems: one row per problem, filtered by coverage category, metadata and text; sortable."""

from __future__ import annotations

from reachscope.core import browse
from reachscope.store.grades import resolve_grader
from reachscope.store.problems import ProblemLine, problem_lines
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Header, Input, Select, Static

from ..messages import ProblemsLoaded, RunsChanged
from ..widgets.footer import AppFooter
from ..widgets.problem_table import ProblemTable
from .base import AppScreen

SORTS = ["idx", "a", "b", "delta", "level", "subject"]


class ProblemsScreen(AppScreen):
    """The problem table of the run pair being compared."""

    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("f", "next_category", "Category"),
        Binding("s", "next_sort", "Sort"),
        Binding("r", "reverse", "Reverse"),
        Binding("escape", "app.back", "Back"),
    ]

    def __init__(self, category: str = "all", ids: frozenset[int] | None = None,
                 k: int | None = None) -> None:
        super().__init__()
        # A coverage cell at k names its problems explicitly (the full-budget category of those
        # problems may differ), so the category filter starts at "all" then.
        self.query_state = browse.ProblemQuery(category="all" if ids is not None else category,
                                               ids=ids)
        self.cell = (category, k) if ids is not None else None
        self.lines: list[ProblemLine] = []
        self.graders: list[str] = []
        self.shown: list[ProblemLine] = []
        self._generation = -1

    def compose(self) -> ComposeResult:
        app = self.app
        a = app.run_a.label if app.run_a else "A"
        b = app.run_b.label if app.run_b else "B"
        names = {"all": "all problems", "both": "both solve", "only_a": f"only {a} solves",
                 "only_b": f"only {b} solves", "neither": "neither solves"}
        yield Header()
        with Horizontal(id="filters"):
            yield Input(placeholder="/ text or index", id="search", compact=True)
            yield Select([(v, k) for k, v in names.items()], value=self.query_state.category,
                         allow_blank=False, id="category", compact=True)
            yield Select([], prompt="any level/subject", id="meta", compact=True)
        yield Static("", id="problems-status")
        yield ProblemTable(id="problems")
        yield AppFooter()

    def on_mount(self) -> None:
        self.load_problems()
        self.query_one(ProblemTable).focus()

    def on_screen_resume(self) -> None:
        if self._generation not in (-1, self.app.generation):
            self.load_problems()

    @property
    def run_ids(self) -> tuple[int, int | None]:
        app = self.app
        return app.run_a.id, (app.run_b.id if app.run_b else None)

    @work(thread=True, exclusive=True, group="problems", exit_on_error=False)
    def load_problems(self) -> None:
        app = self.app
        runs = [r for r in (app.run_a, app.run_b) if r is not None]
        generation = app.generation

        def fetch(db):  # noqa: ANN001, ANN202
            pairs = [(r.id, app.grader_for(r.id) or resolve_grader(db, r)) for r in runs]
            return problem_lines(db, runs[0].dataset, pairs), [g for _, g in pairs]

        lines, graders = app.source.query(fetch)
        self.post_message(ProblemsLoaded(lines, graders, generation))

    @on(ProblemsLoaded)
    def _loaded(self, message: ProblemsLoaded) -> None:
        self.lines = message.lines
        self.graders = message.graders
        self._generation = message.generation
        meta = self.query_one("#meta", Select)
        with meta.prevent(Select.Changed):
            current = meta.value
            options = browse.metadata_values(self.lines)
            meta.set_options([(f"{k}: {v}", f"{k}\x00{v}") for k, v in options])
            if current != Select.NULL and current in {f"{k}\x00{v}" for k, v in options}:
                meta.value = current
        self.refilter()

    def refilter(self) -> None:
        """Apply the filters and sort order to the loaded lines (no database work)."""
        app = self.app
        run_a, run_b = self.run_ids
        self.shown = browse.select_problems(self.lines, self.query_state, run_a, run_b)
        self.query_one(ProblemTable).show(
            self.shown, run_a, run_b, app.run_a.label, app.run_b.label if app.run_b else None)
        q = self.query_state
        where = ""
        if self.cell is not None and q.ids is not None:
            where = f" in cell {self.cell[0]} at k = {self.cell[1]}"
        self.query_one("#problems-status", Static).update(
            f"{len(self.shown)} of {len(self.lines)} problems{where} · sorted by {q.sort}"
            f"{' ↓' if q.reverse else ' ↑'} · grader {'/'.join(dict.fromkeys(self.graders))}")

    # -- filters ------------------------------------------------------------------------------

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        self.query_state.text = event.value
        self.refilter()

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.query_one(ProblemTable).focus()

    @on(Select.Changed, "#category")
    def _category(self, event: Select.Changed) -> None:
        self.query_state.category = str(event.value)
        if event.value != "all":
            self.query_state.ids = None  # a category replaces the coverage cell's problems
        self.refilter()

    @on(Select.Changed, "#meta")
    def _meta(self, event: Select.Changed) -> None:
        value = event.value
        self.query_state.meta = None if value == Select.NULL else tuple(str(value).split("\x00"))
        self.refilter()

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        key = {"a_cn": "a", "b_cn": "b"}.get(column, column)
        if key == self.query_state.sort:
            self.query_state.reverse = not self.query_state.reverse
        else:
            self.query_state.sort, self.query_state.reverse = key, False
        self.refilter()

    @on(DataTable.RowSelected, "#problems")
    def _open(self, event: DataTable.RowSelected) -> None:
        self.app.open_problem(int(str(event.row_key.value)))

    @on(RunsChanged)
    def _runs_changed(self, message: RunsChanged) -> None:
        if set(self.app.pair_ids) & message.run_ids:
            self.load_problems()

    # -- actions ------------------------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_next_category(self) -> None:
        cats = list(browse.CATEGORIES)
        nxt = cats[(cats.index(self.query_state.category) + 1) % len(cats)]
        self.query_one("#category", Select).value = nxt

    def action_next_sort(self) -> None:
        sorts = SORTS if self.app.run_b else [s for s in SORTS if s not in ("b", "delta")]
        cur = self.query_state.sort
        self.query_state.sort = sorts[(sorts.index(cur) + 1) % len(sorts)] if cur in sorts \
            else sorts[0]
        self.refilter()

    def action_reverse(self) -> None:
        self.query_state.reverse = not self.query_state.reverse
        self.refilter()
