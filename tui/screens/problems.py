"""Problems: one row per problem, filtered by coverage category, answer evidence, metadata and
text; sortable, with an answers view (entropy, distinct answers, truncation per run)."""

from __future__ import annotations

from reachscope.core import browse
from reachscope.store import answers as store_answers
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
#: The sorts `s` cycles through in the answers view.
ANSWER_SORTS = ["idx", "a", "b", "a_entropy", "b_entropy", "a_distinct", "b_distinct",
                "a_trunc", "b_trunc"]
#: Values of the category select that set the answer-evidence filter instead.
EVIDENCE_PREFIX = "ev:"


class ProblemsScreen(AppScreen):
    """The problem table of the run pair being compared."""

    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("f", "next_category", "Category"),
        Binding("s", "next_sort", "Sort"),
        Binding("r", "reverse", "Reverse"),
        Binding("e", "answers_view", "Answers",
                tooltip="Columns: answer entropy, distinct answers, truncation"),
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
        #: run id -> problem id -> answer evidence (read with the lines), and whether the
        #: answers view is shown.
        self.stats: browse.StatsByRun = {}
        self.answers_view = False
        self._category_values: list[str] = list(browse.CATEGORIES)
        self._generation = -1

    def compose(self) -> ComposeResult:
        app = self.app
        a = app.run_a.label if app.run_a else "A"
        b = app.run_b.label if app.run_b else "B"
        names = {"all": "all problems", "both": "both solve", "only_a": f"only {a} solves",
                 "only_b": f"only {b} solves", "neither": "neither solves"}
        if app.run_b is not None:
            names[EVIDENCE_PREFIX + "confidently_wrong"] = f"{b} confidently wrong"
        names[EVIDENCE_PREFIX + "truncated_failures"] = "truncated failures"
        self._category_values = list(names)
        yield Header()
        with Horizontal(id="filters"):
            yield Input(placeholder="/ text or index", id="search", compact=True)
            yield Select([(v, k) for k, v in names.items()], value=self.query_state.category,
                         allow_blank=False, id="category", compact=True)
            yield Select([], prompt="any level/subject", id="meta", compact=True)
        yield Static("", markup=False, id="problems-status")
        yield ProblemTable(id="problems")
        # Compact and without the palette hint (? lists every key): all fit at 80 columns.
        yield AppFooter(compact=True, show_command_palette=False)

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
            counts = {run_id: store_answers.cluster_counts(db, run_id, grader)
                      for run_id, grader in pairs}
            return problem_lines(db, runs[0].dataset, pairs), [g for _, g in pairs], counts

        lines, graders, counts = app.source.query(fetch)
        from reachscope.core.answer_stats import run_answer_stats  # numpy: not at start-up

        stats = {run_id: run_answer_stats(rows) for run_id, rows in counts.items()}
        self.post_message(ProblemsLoaded(lines, graders, generation, stats))

    @on(ProblemsLoaded)
    def _loaded(self, message: ProblemsLoaded) -> None:
        self.lines = message.lines
        self.graders = message.graders
        self.stats = message.stats
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
        self.shown = browse.select_problems(self.lines, self.query_state, run_a, run_b,
                                            self.stats)
        self.query_one(ProblemTable).show(
            self.shown, run_a, run_b, app.run_a.label, app.run_b.label if app.run_b else None,
            self.stats, self.answers_view)
        q = self.query_state
        where = ""
        if self.cell is not None and q.ids is not None:
            where = f" in cell {self.cell[0]} at k = {self.cell[1]}"
        view = " · H answer entropy, ans distinct, cut truncated" if self.answers_view else ""
        self.query_one("#problems-status", Static).update(
            f"{len(self.shown)} of {len(self.lines)} problems{where} · sorted by "
            f"{self._sort_name(q.sort)}{' ↓' if q.reverse else ' ↑'} · grader "
            f"{'/'.join(dict.fromkeys(self.graders))}{view}")

    def _sort_name(self, sort: str) -> str:
        """A sort key as the status line names it (``rl entropy`` for ``b_entropy``)."""
        side, _, name = sort.partition("_")
        app = self.app
        if side in ("a", "b") and name in browse.EVIDENCE_SORTS:
            run = app.run_a if side == "a" else app.run_b
            return f"{run.label if run else side.upper()} {name}"
        return sort

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
        value = str(event.value)
        if value.startswith(EVIDENCE_PREFIX):
            # An answer-evidence filter over all problems, shown with the columns it is about.
            self.query_state.category = "all"
            self.query_state.evidence = value[len(EVIDENCE_PREFIX):]
            self.answers_view = True
        else:
            self.query_state.category, self.query_state.evidence = value, "none"
        if value != "all":
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
        select = self.query_one("#category", Select)
        values = self._category_values
        current = values.index(select.value) if select.value in values else -1
        select.value = values[(current + 1) % len(values)]

    def action_answers_view(self) -> None:
        self.answers_view = not self.answers_view
        self.refilter()

    def action_next_sort(self) -> None:
        sorts = ANSWER_SORTS if self.answers_view else SORTS
        if not self.app.run_b:
            sorts = [s for s in sorts if not (s in ("b", "delta") or s.startswith("b_"))]
        cur = self.query_state.sort
        self.query_state.sort = sorts[(sorts.index(cur) + 1) % len(sorts)] if cur in sorts \
            else sorts[0]
        self.refilter()

    def action_reverse(self) -> None:
        self.query_state.reverse = not self.query_state.reverse
        self.refilter()
