"""Compare: pass@k curves of two runs, coverage at the full budget and at a chosen k."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from reachscope.core import browse
from reachscope.store import Run, StoreError
from reachscope.store.counts import counted_problem_metadata, max_samples
from reachscope.store.grades import resolve_grader
from reachscope.store.runs import RunSummary, list_runs, run_state, run_summary
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Header, Select, Static

from ..messages import ComparisonLoaded, RunsChanged, RunsLoaded
from ..widgets.breakdown_table import BreakdownTable
from ..widgets.cells import fill_table
from ..widgets.coverage_table import CoverageTable
from ..widgets.footer import AppFooter
from ..widgets.passk_plot import PassKPlot
from .base import AppScreen

if TYPE_CHECKING:  # numpy and the analysis code load in the first comparison's worker
    import sqlite_utils
    from reachscope.core import analysis
    from reachscope.core.breakdown import Breakdown


@dataclass
class BreakdownLoaded(Message):
    """The breakdown of a comparison by a metadata field (``field`` None: no breakdown)."""

    comparison: analysis.Comparison
    fields: list[str]
    field: str | None
    result: Breakdown | None
    advanced: bool  # asked for with `m` (rather than recomputed with new figures)


@dataclass
class ComparisonWaiting(Message):
    """No compared run has grades yet (a sampler has just started)."""

    text: str


def has_grades(db: sqlite_utils.Database, run: Run, grader: str | None) -> bool:
    try:
        resolve_grader(db, run, grader)
    except StoreError:
        return False
    return True


def read_only_table(table: DataTable) -> DataTable:
    """A table only read, never acted on: out of the Tab order."""
    table.can_focus = False
    return table


def default_pair(runs: list[Run]) -> tuple[Run | None, Run | None]:
    """The first run and the next one on its dataset (a base run first where labels say so)."""
    if not runs:
        return None, None
    ordered = sorted(runs, key=lambda r: (0 if "base" in r.label.lower() else 1, r.id))
    a = ordered[0]
    b = next((r for r in runs if r.dataset == a.dataset and r.id != a.id), None)
    return a, b


#: k+ and k− share one footer entry ("+- k"), which leaves room for the evidence key at 80
#: columns.
_K_KEYS = Binding.Group("k ", compact=True)


class CompareScreen(AppScreen):
    """pass@k curves, coverage, crossover and the bootstrap of the difference."""

    BINDINGS = [
        Binding("p", "problems", "Problems"),
        Binding("d", "toggle_plot", "Curves/Δ"),
        Binding("plus,equals_sign", "coverage_k(1)", "k+", group=_K_KEYS),
        Binding("minus", "coverage_k(-1)", "k−", group=_K_KEYS),
        Binding("y", "toggle_range", "Y range", tooltip="y axis: fitted to the curves / 0 to 1"),
        Binding("m", "breakdown", "By field",
                tooltip="pass@k, coverage by metadata (next field, off)"),
        Binding("e", "evidence", "Evidence",
                tooltip="Evidence: support, dSE, maj@k, transitions"),
        # Off the footer, which is full at 80 columns; `?` lists them, the notes name `t` when
        # it applies and the evidence screen's footer shows both.
        Binding("t", "trajectory", "Trajectory", show=False,
                tooltip="Checkpoint trajectory (3+ runs on a dataset)"),
        Binding("l", "likelihood", "Likelihood", show=False,
                tooltip="Likelihood: log PPL histograms"),
        Binding("a", "focus_run('a')", "Run A", show=False),
        Binding("b", "focus_run('b')", "Run B", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.comparison: analysis.Comparison | None = None
        self.ks: list[int] = []
        self.coverage_k = 1
        self.show_difference = False
        #: The metadata field pass@k and coverage are broken down by (None: no breakdown).
        self.breakdown_field: str | None = None
        self._generation = -1

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="pickers"):
            yield Select([], prompt="run A", id="run-a", compact=True)
            yield Static(" vs ", markup=False, classes="vs")
            yield Select([], prompt="run B (none)", id="run-b", compact=True)
        with Horizontal(id="compare-body"):
            yield PassKPlot(id="plot")
            with VerticalScroll(id="compare-side"):
                # Figures to read, not to pick from: Tab skips them (the pane scrolls).
                yield read_only_table(DataTable(id="summary", cursor_type="row",
                                                show_cursor=False))
                yield CoverageTable(id="coverage")
                yield BreakdownTable(id="breakdown")
                yield Static("", markup=False, id="compare-notes")
                yield read_only_table(DataTable(id="bootstrap", cursor_type="row",
                                                show_cursor=False))
        # Compact, without the palette key (ctrl+p still opens it; `?` lists it): every key fits
        # 80 columns.
        yield AppFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(PassKPlot).show_message("loading…")
        self.load_runs()

    def on_screen_resume(self) -> None:
        if self._generation not in (-1, self.app.generation):
            self.load_comparison()

    def on_resize(self) -> None:
        # The coverage headers are fitted to the side pane, whose width follows the screen's.
        self.call_after_refresh(self.query_one(CoverageTable).refit)

    # -- workers ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def load_runs(self) -> None:
        """The runs, and cheap figures of the pair to compare (from `counts`) to show at once;
        the comparison itself (pass@k, coverage, bootstrap) follows in :meth:`load_comparison`."""
        app = self.app

        def fetch(db):  # noqa: ANN001, ANN202
            runs = list_runs(db)
            pair = (app.run_a, app.run_b) if app.run_a is not None else default_pair(runs)
            summaries = {}
            for run in (r for r in pair if r is not None):
                try:
                    grader = app.graders.get(run.id) or resolve_grader(db, run)
                except StoreError:
                    continue  # no grades yet: the comparison will say so
                summaries[run.id] = run_summary(db, run.id, grader)
            return runs, summaries

        runs, summaries = app.source.query(fetch)
        self.post_message(RunsLoaded(runs, summaries))

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def load_comparison(self) -> None:
        from reachscope.core import analysis, metrics

        app = self.app
        runs = [r for r in (app.run_a, app.run_b) if r is not None]
        if not runs:
            return
        generation = app.generation

        def compute(db):  # noqa: ANN001, ANN202
            # A run a sampler has started but not graded yet waits (it is named in the notes)
            # instead of failing the comparison of the others.
            graded = [r for r in runs if has_grades(db, r, app.grader_choice)]
            if not graded:
                return None, None
            ks = metrics.log2_ks(max_samples(db, [r.id for r in graded]))
            k = self.coverage_k if len(graded) == 2 else None
            comparison = analysis.compare(db, graded, ks=ks, grader=app.grader_choice,
                                          coverage_k=k, bootstrap=1000)
            comparison.notes += [f"{r.label}: no grades yet" for r in runs if r not in graded]
            return ks, comparison

        ks, comparison = app.source.query(compute)
        if comparison is None:
            names = " and ".join(r.label for r in runs)
            self.post_message(ComparisonWaiting(f"{names}: no grades yet"))
            return
        self.post_message(ComparisonLoaded(comparison, ks, generation))

    @work(thread=True, exclusive=True, group="breakdown", exit_on_error=False)
    def load_breakdown(self, comparison: analysis.Comparison, field: str | None,
                       advance: bool) -> None:
        """The comparison's pass@k and coverage by ``field`` (by the next field with
        ``advance``), at k = 1 and the full budget."""
        from reachscope.core import breakdown

        ids = [rc.run.id for rc in comparison.runs]
        metadata = self.app.source.query(lambda db: counted_problem_metadata(db, ids))
        fields = breakdown.breakdown_fields(metadata)
        if advance:
            field = breakdown.next_field(fields, field)
        elif field not in fields:
            field = None  # the pair moved to a dataset without it
        ks = sorted({1, comparison.ks[-1]}) if comparison.ks else [1]
        result = (breakdown.breakdown_of(comparison, metadata, field, ks)
                  if field is not None else None)
        self.post_message(BreakdownLoaded(comparison, fields, field, result, advance))

    # -- handlers -----------------------------------------------------------------------------

    @on(RunsLoaded)
    def _runs_loaded(self, message: RunsLoaded) -> None:
        app = self.app
        app.runs = message.runs
        if not message.runs:
            self.query_one(PassKPlot).show_message("this database has no runs")
            return
        by_id = {r.id: r for r in message.runs}
        if app.run_a is None or app.run_a.id not in by_id:
            app.set_pair(*default_pair(message.runs))
        else:
            # Fresh Run rows (status, grader); a B once a second run on A's dataset exists.
            b = by_id.get(app.run_b.id) if app.run_b is not None else None
            if b is None:
                b = default_pair([app.run_a, *(r for r in message.runs if r.id != app.run_a.id)])[1]
            app.set_pair(by_id[app.run_a.id], b)
        # Content, not a str: Select reads a str prompt as markup, and a label is the user's text.
        options = [(Content(f"{r.label} ({r.dataset}, {run_state(r)})"), r.id)
                   for r in message.runs]
        for sel_id, run in (("#run-a", app.run_a), ("#run-b", app.run_b)):
            select = self.query_one(sel_id, Select)
            with select.prevent(Select.Changed):
                select.set_options(options)
                select.value = run.id if run is not None else Select.NULL
        if self.comparison is None:
            self._fill_summary_preview(message.summaries)
        self.refresh_bindings()  # `t` (in `?`) applies with three runs on the dataset
        self.load_comparison()

    def _fill_summary_preview(self, summaries: dict[int, RunSummary]) -> None:
        """The summary table from the cheap figures, until the comparison replaces it."""
        app = self.app
        rows = []
        for run in (r for r in (app.run_a, app.run_b) if r is not None):
            s = summaries.get(run.id)
            if s is None:
                continue
            n = f"{s.n_min}" if s.n_min == s.n_max else f"{s.n_min}–{s.n_max}"
            rows.append([run.label, str(s.problems), n, browse.format_number(s.mean_accuracy),
                         "…"])
        fill_table(self.query_one("#summary", DataTable),
                   ["run", "problems", "n", "pass@1", "pass@k"], rows)

    @on(Select.Changed)
    def _run_picked(self, event: Select.Changed) -> None:
        app = self.app
        by_id = {r.id: r for r in app.runs}
        run = by_id.get(event.value) if event.value != Select.NULL else None
        if event.select.id == "run-a":
            if run is None:
                return
            app.set_pair(run, app.run_b)
        else:
            app.set_pair(app.run_a, run)
        self.load_comparison()

    @on(ComparisonLoaded)
    def _comparison_loaded(self, message: ComparisonLoaded) -> None:
        self.comparison, self.ks = message.comparison, message.log2_ks
        self._generation = message.generation
        comp = message.comparison
        app = self.app
        for rc in comp.runs:
            app.graders[rc.run.id] = rc.grader
        self._draw_plot()
        k_last = comp.ks[-1] if comp.ks else 1
        rows = []
        for key, rc in zip(comp.keys, comp.runs):
            curve = comp.curves[key]
            n = f"{rc.n_min}" if rc.n_min == rc.n_max else f"{rc.n_min}–{rc.n_max}"
            last = curve[-1] if len(curve) else None
            rows.append([key, str(len(rc.problem_ids)), n,
                         browse.format_number(rc.mean_accuracy()), browse.format_number(last)])
        fill_table(self.query_one("#summary", DataTable),
                   ["run", "problems", "n", "pass@1", f"pass@{k_last}"], rows)
        coverage = self.query_one(CoverageTable)
        notes = []
        if comp.coverage is not None:
            coverage.display = True
            coverage.show(comp.keys[0], comp.keys[1], comp.coverage, comp.coverage_at_k)
            cross = comp.crossover_k
            notes.append(
                f"crossover k (log2 grid): {cross}" if cross is not None
                else "crossover: none on this k grid")
        else:
            coverage.display = False
            notes.append("coverage and crossover need two runs on the same dataset")
        # The model paths as a note, which wraps, rather than a table column, which a long
        # path pushed past the side pane's edge.
        notes.append("model: " + ", ".join(f"{key} {rc.run.model or '?'}"
                                           for key, rc in zip(comp.keys, comp.runs)))
        notes.append("grader: " + ", ".join(f"{rc.run.label} {rc.grader}" for rc in comp.runs)
                     + " (g: next grader)")
        notes += comp.notes
        if app.has_trajectory():
            notes.append(f"t: trajectory of the {len(app.trajectory_runs())} runs on "
                         f"{comp.runs[0].run.dataset}")
        self.query_one("#compare-notes", Static).update("\n".join(notes))
        self._fill_bootstrap()
        if self.breakdown_field is not None:
            self.load_breakdown(comp, self.breakdown_field, advance=False)

    @on(ComparisonWaiting)
    def _comparison_waiting(self, message: ComparisonWaiting) -> None:
        self.query_one(PassKPlot).show_message(message.text)

    @on(BreakdownLoaded)
    def _breakdown_loaded(self, message: BreakdownLoaded) -> None:
        if message.comparison is not self.comparison:
            return  # computed from figures that have since been replaced
        self.breakdown_field = message.field
        table = self.query_one(BreakdownTable)
        table.display = message.result is not None
        if message.result is None:
            if message.advanced:
                self.notify("breakdown off" if message.fields else
                            "this dataset has no metadata field to break pass@k down by")
            return
        table.show(message.result, message.comparison.keys, reveal=message.advanced)

    def _fill_bootstrap(self) -> None:
        table = self.query_one("#bootstrap", DataTable)
        comp = self.comparison
        if comp is None or comp.bootstrap is None:
            table.clear(columns=True)
            table.display = False
            return
        table.display = True
        bs = comp.bootstrap
        a, b = comp.keys[0], comp.keys[1]
        fmt = browse.format_number
        # Text, not markup: "[+0.1, +0.2]" is no style tag.
        rows = [[str(k), fmt(d, "+.3f"), Text(f"[{fmt(lo, '+.3f')}, {fmt(hi, '+.3f')}]")]
                for k, d, lo, hi in zip(bs.ks, bs.diff, bs.low, bs.high)]
        fill_table(table, ["k", f"Δ {b}−{a}", f"{bs.level:.0%} CI"], rows)

    def _draw_plot(self) -> None:
        comp = self.comparison
        plot = self.query_one(PassKPlot)
        if comp is None:
            return
        if self.show_difference and comp.bootstrap is not None:
            bs = comp.bootstrap
            plot.show_difference(bs.ks, bs.diff, bs.low, bs.high,
                                 f"Δ pass@k ({comp.keys[1]} − {comp.keys[0]})", bs.level)
        else:
            plot.show_curves(comp.ks, {k: comp.curves[k] for k in comp.keys})

    @on(CoverageTable.Picked)
    def _coverage_picked(self, message: CoverageTable.Picked) -> None:
        from .problems import ProblemsScreen

        ids = frozenset(message.problem_ids) if message.k is not None else None
        self.app.push_screen(ProblemsScreen(category=message.category, ids=ids, k=message.k))

    @on(RunsChanged)
    def _runs_changed(self, message: RunsChanged) -> None:
        # New runs, status changes and first grades all go through the run list (cheap), which
        # then recomputes the comparison; a grader remembered before the first grade is dropped.
        if self.app.grader_choice is None:
            for run_id in message.run_ids:
                self.app.graders.pop(run_id, None)
        self.load_runs()

    # -- actions ------------------------------------------------------------------------------

    def action_problems(self) -> None:
        self.app.action_problems()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "trajectory":
            # Below three runs: disabled (None), still listed by `?` with what it needs.
            return True if self.app.has_trajectory() else None
        return True

    def action_evidence(self) -> None:
        from .evidence import EvidenceScreen  # with the evidence code: not needed at start-up

        if self.comparison is None:
            self.notify("The comparison is still loading")
            return
        self.app.push_screen(EvidenceScreen(self.comparison))

    def action_trajectory(self) -> None:
        self.app.open_trajectory()

    def action_likelihood(self) -> None:
        from .likelihood import LikelihoodScreen

        runs = [r for r in (self.app.run_a, self.app.run_b) if r is not None]
        if not runs:
            self.notify("No run selected yet", severity="warning")
            return
        self.app.push_screen(LikelihoodScreen(runs, self.app.grader_choice))

    def action_toggle_plot(self) -> None:
        if self.comparison is None or self.comparison.bootstrap is None:
            self.notify("The difference band needs two runs on the same dataset")
            return
        self.show_difference = not self.show_difference
        self._draw_plot()

    def action_coverage_k(self, step: int) -> None:
        if not self.ks:
            return
        grid = [k for k in self.ks]
        i = min(range(len(grid)), key=lambda j: abs(grid[j] - self.coverage_k))
        self.coverage_k = grid[max(0, min(len(grid) - 1, i + step))]
        self.load_comparison()

    def action_breakdown(self) -> None:
        if self.comparison is None:
            self.notify("The comparison is still loading")
            return
        self.load_breakdown(self.comparison, self.breakdown_field, advance=True)

    def action_focus_run(self, which: str) -> None:
        self.query_one(f"#run-{which}", Select).focus()

    def action_toggle_range(self) -> None:
        self.query_one(PassKPlot).toggle_range()
