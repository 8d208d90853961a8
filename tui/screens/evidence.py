"""Evidence: support dynamics, dSE, budget parity, maj@k beside pass@k and the base -> RL
accuracy transitions of the compared pair, as `reachscope report` computes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reachscope.core.browse import format_number
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Header, Static
from textual.worker import Worker, WorkerState

from ..messages import RunsChanged
from ..widgets.cells import fill_table
from ..widgets.footer import AppFooter
from ..widgets.passk_plot import PassKPlot, legend
from ..widgets.transition_table import SHORT, TransitionTable
from .base import AppScreen
from .compare import read_only_table

if TYPE_CHECKING:
    from reachscope.core.analysis import Comparison
    from reachscope.core.evidence import StatisticInterval
    from reachscope.core.evidence_report import Evidence, PairEvidence
    from reachscope.core.metrics import FloatArray
    from reachscope.core.validated import ValidatedCurves

#: Bootstrap replicates of the support and dSE intervals (the report's default).
RESAMPLES = 1000


@dataclass
class EvidenceLoaded(Message):
    """The evidence of the comparison, and the validated curves of its runs (empty: none)."""

    comparison: Comparison
    evidence: Evidence
    validated: list[ValidatedCurves] = field(default_factory=list)
    #: Computed at k = 1 only: the pair statistics, before the maj@k curves (which can take
    #: seconds where the store has no maj@k cache).
    partial: bool = False


def fmt(x: float | None, signed: bool = False) -> str:
    """A figure to three decimals, ``-`` when undefined."""
    return format_number(x, "+.3f" if signed else ".3f")


def interval(ci: StatisticInterval | None) -> str:
    """``[low, high]`` of a bootstrap interval, ``-`` when there is none."""
    if ci is None:
        return "-"
    low, high = format_number(ci.low, "+.3f"), format_number(ci.high, "+.3f")
    return "-" if low == "-" else f"[{low}, {high}]"


def support_rows(p: PairEvidence) -> list[list[str]]:
    """The support table: one row per ratio, its value and paired-bootstrap interval."""
    return [[name.upper(), fmt(getattr(p.support, name)), interval(p.support_intervals.get(name))]
            for name in ("srr", "ndr", "sds", "nscr")]


def pair_text(p: PairEvidence) -> Text:
    """Budget parity warnings first, then P/E/S/O, the detection floor and dSE."""
    s, gap = p.support, p.efficiency_gap
    text = Text()
    for d in p.parity:
        text.append(f"⚠ budget parity: {d}\n", style="bold yellow")
    if not p.parity:
        text.append("budget parity: same n, max_tokens, sampling and prompt\n", style="dim")
    text.append(f"{p.other} vs {p.base} on {len(p.problems)} problems, support at K={p.k}: ")
    text.append(f"P {s.preserved}  E {s.expanded}  S {s.shrunk}  O {s.out}\n", style="bold")
    text.append(f"detection floor at K={p.k}: 0 correct of {p.k} still allows p ≤ "
                f"{p.detection_floor[p.base]:.4f} (95%)\n")
    text.append(f"dSE = pass@{gap.k}({p.base}) {fmt(gap.base_pass_at_k)} − pass@1({p.other}) "
                f"{fmt(gap.rl_pass_at_1)} = ")
    text.append(fmt(gap.gap, True), style="bold")
    text.append(f"  {interval(p.efficiency_gap_interval)}")
    return text


def curve_rows(comp: Comparison, ev: Evidence,
               validated: list[ValidatedCurves]) -> tuple[list[str], list[list[str]]]:
    """k, then pass@k and maj@k of each run (and CoT-pass@k where reviews exist); runs are named
    by letter (:func:`run_letters`) so that the table fits 80 columns."""
    letter = run_letters(comp)
    header = ["k"]
    columns = []
    for r in ev.runs:
        header += [f"pass {letter[r.key]}", f"maj {letter[r.key]}"]
        columns += [comp.curves[r.key], r.maj_at_k]
    for v in validated:  # on the reviewed problems: plain pass@k, then CoT-pass@k
        header += [f"rev {letter[v.key]}", f"CoT {letter[v.key]}"]
        columns += [v.plain, v.estimate]
    rows = []
    for i, k in enumerate(ev.ks):
        row = [str(k)]
        for col in columns:
            row.append(fmt(float(col[i])) if i < len(col) else "-")
        rows.append(row)
    return header, rows


def run_letters(comp: Comparison) -> dict[str, str]:
    """A, B, ... for the compared runs' keys."""
    return {key: chr(ord("A") + i) for i, key in enumerate(comp.keys)}


class EvidenceScreen(AppScreen):
    """The evidence of the compared pair, computed in a worker when the screen opens."""

    DEFAULT_CSS = """
    .evidence-pane { height: 1fr; border-left: blank; scrollbar-size-vertical: 1; }
    .evidence-pane:focus { border-left: thick $accent; }
    .evidence-pane DataTable, .evidence-pane Static { height: auto; margin-bottom: 1; }
    .evidence-pane #evidence-pair, .evidence-pane #transitions-title,
    .evidence-pane #cell-title { margin-bottom: 0; }
    #evidence-validated { color: $text-muted; }
    .evidence-pane #evidence-plot { height: 12; margin-bottom: 0; }
    EvidenceScreen.-wide #evidence-plot { height: 16; }
    #transitions-box, #cell-box { height: auto; layout: vertical; }
    EvidenceScreen.-wide #transitions-box { layout: horizontal; }
    EvidenceScreen.-wide #cell-box { width: 1fr; margin-left: 2; }
    EvidenceScreen.-wide #transitions { width: auto; }
    """
    SCOPED_CSS = False  # the rules name the screen (its -wide class) themselves

    BINDINGS = [
        Binding("l", "likelihood", "Likelihood",
                tooltip="Likelihood: log PPL histograms"),
        Binding("c", "curves", "Curves",
                tooltip="Plot pass@k and maj@k / validated CoT-pass@k (review labels)"),
        Binding("y", "toggle_range", "Y range", show=False,
                tooltip="y axis of the plot: fitted to the curves / 0 to 1"),
        Binding("t", "trajectory", "Trajectory",
                tooltip="Checkpoint trajectory (3+ runs on a dataset)"),
        Binding("escape", "app.back", "Back"),
    ]

    def __init__(self, comparison: Comparison) -> None:
        super().__init__()
        self.comparison = comparison
        self.evidence: Evidence | None = None
        self.validated: list[ValidatedCurves] = []
        #: The problems of the highlighted transition cell, by problem id.
        self.cell_ids: list[int] = []
        #: The curves drawn: name -> values on the comparison's k grid.
        self.plotted: dict[str, FloatArray] = {}
        #: Plot the validated curves (``c``) rather than pass@k and maj@k.
        self.show_validated = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="evidence-body", classes="evidence-pane"):
            yield Static("computing the evidence…", markup=False, id="evidence-pair")
            yield read_only_table(DataTable(id="evidence-support", cursor_type="row",
                                            show_cursor=False))
            yield Static("", markup=False, id="transitions-title")
            with Horizontal(id="transitions-box"):
                yield TransitionTable(id="transitions")
                with Vertical(id="cell-box"):
                    yield Static("", markup=False, id="cell-title")
                    yield DataTable(id="cell-problems", cursor_type="row")
            yield read_only_table(DataTable(id="evidence-curves", cursor_type="row",
                                            show_cursor=False))
            yield PassKPlot(id="evidence-plot")
            yield Static("", markup=False, id="evidence-legend")
            yield Static("", markup=False, id="evidence-validated")
        yield AppFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "evidence: " + " vs ".join(self.comparison.keys)
        for widget in ("#transitions", "#cell-problems", "#evidence-support", "#evidence-curves",
                       "#evidence-plot"):
            self.query_one(widget).display = False
        self.load_evidence()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "trajectory":  # below three runs: disabled, dimmed in the footer
            return True if self.app.has_trajectory() else None
        return True

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        super().on_worker_state_changed(event)
        if event.state == WorkerState.ERROR:
            self.query_one("#evidence-pair", Static).update(
                f"the evidence failed: {event.worker.error}")

    @work(thread=True, exclusive=True, group="evidence", exit_on_error=False)
    def load_evidence(self, fresh: bool = False) -> None:
        """The evidence of the comparison Compare computed, or with ``fresh`` of the same runs
        read again (their numbers moved)."""
        from reachscope.core import analysis, metrics
        from reachscope.core.evidence_report import evidence
        from reachscope.core.validated import validated_curves
        from reachscope.store.counts import max_samples

        comp = self.comparison
        grader = self.app.grader_choice

        def first(db):  # noqa: ANN001, ANN202
            cmp = comp
            if fresh:
                runs = [rc.run for rc in comp.runs]
                ks = metrics.log2_ks(max_samples(db, [r.id for r in runs]))
                cmp = analysis.compare(db, runs, ks=ks, grader=grader, bootstrap=0)
            return cmp, evidence(db, cmp.runs, cmp.keys, [1], resamples=RESAMPLES)

        def curves(db):  # noqa: ANN001, ANN202
            ev = evidence(db, cmp.runs, cmp.keys, cmp.ks, resamples=RESAMPLES)
            return ev, validated_curves(db, cmp.runs, cmp.keys, cmp.ks)

        cmp, ev = self.app.source.query(first)
        self.post_message(EvidenceLoaded(cmp, ev, partial=True))
        ev, validated = self.app.source.query(curves)
        self.post_message(EvidenceLoaded(cmp, ev, validated))

    @on(RunsChanged)
    def _runs_changed(self, message: RunsChanged) -> None:
        if {rc.run.id for rc in self.comparison.runs} & message.run_ids:
            self.load_evidence(fresh=True)

    @on(EvidenceLoaded)
    def _loaded(self, message: EvidenceLoaded) -> None:
        ev, comp = message.evidence, message.comparison
        new_pair = comp is not self.comparison or self.evidence is None
        self.comparison, self.evidence = comp, ev
        if message.partial or new_pair:
            self._show_pair(ev)
        if message.partial:
            self.query_one("#evidence-validated", Static).update(
                "computing maj@k on the k grid…")
            return
        self.validated = message.validated
        header, rows = curve_rows(comp, ev, message.validated)
        curves = self.query_one("#evidence-curves", DataTable)
        curves.display = True
        fill_table(curves, header, rows)
        self._draw_curves()
        names = ", ".join(f"{v} = {k}" for k, v in run_letters(comp).items())
        notes = [f"{names}; maj@k: plurality vote of k samples, no-answer samples do not "
                 "vote, ties split"]
        if message.validated:
            notes.append("rev: pass@k on the reviewed problems; CoT: pass@k counting only "
                         "correct samples judged valid (unjudged ones left out); bounds count "
                         "them invalid / valid")
        for v in message.validated:
            notes.append(f"CoT {v.key}: {v.problems} reviewed problems, {v.judged} of "
                         f"{v.correct} correct samples judged, {v.valid} valid; CoT-pass@1 "
                         f"{fmt(v.estimate[0])} in [{fmt(v.lower[0])}, {fmt(v.upper[0])}]")
        self.query_one("#evidence-validated", Static).update("\n".join(notes + ev.notes))

    def _show_pair(self, ev: Evidence) -> None:
        """Parity, support, dSE and the transition matrix (the same at every k grid)."""
        if not ev.pairs:
            self.query_one("#evidence-pair", Static).update(
                "support dynamics, dSE and transitions need two runs on the same dataset")
            return
        pair = ev.pairs[0]
        self.query_one("#evidence-pair", Static).update(pair_text(pair))
        support = self.query_one("#evidence-support", DataTable)
        support.display = True
        fill_table(support, ["ratio", "value", "95% CI"],
                   [[a, b, Text(c)] for a, b, c in support_rows(pair)])
        self.query_one("#transitions-title", Static).update(
            f"accuracy bins: {pair.base} rows ↓, {pair.other} columns → (bin .3 is (.2, .3]); "
            "move onto a cell to list its problems, Enter to pick one")
        table = self.query_one(TransitionTable)
        first = not table.display
        table.display = True
        table.show(pair.transition_ids or pair.transitions, keep=not first)
        if first:
            # Without scrolling: the body stays at its top (parity, support, dSE). Focus is set
            # after the next refresh, and whether the table has been laid out by then (and so
            # would be scrolled into view) depends on the machine's load.
            table.focus(scroll_visible=False)
        self._show_cell(table.cursor_row, table.cursor_column - 1,
                        table.cell_problems(table.cursor_row, table.cursor_column))

    def _draw_curves(self) -> None:
        """pass@k and maj@k of each run, or (``c``) plain and CoT-pass@k on the reviewed
        problems of each run with review labels."""
        ev, comp = self.evidence, self.comparison
        if ev is None:
            return
        letter = run_letters(comp)
        curves: dict[str, FloatArray] = {}
        if self.show_validated and self.validated:
            for v in self.validated:
                curves[f"rev {letter[v.key]}"] = v.plain
                curves[f"CoT {letter[v.key]}"] = v.estimate
            title = "pass@k (rev) and CoT-pass@k on the reviewed problems (c: maj@k)"
        else:
            for r in ev.runs:
                curves[f"pass {letter[r.key]}"] = comp.curves[r.key]
                curves[f"maj {letter[r.key]}"] = r.maj_at_k
            title = "pass@k and maj@k" + ("  (c: validated)" if self.validated else "")
        self.plotted = curves
        plot = self.query_one(PassKPlot)
        plot.display = True
        plot.show_curves(ev.ks, curves)
        # The legend as a line below, which wraps, instead of in the title, cut at 80 columns.
        plot.plt.title(title)
        plot.refresh()
        self.query_one("#evidence-legend", Static).update(legend(list(curves)))

    def action_toggle_range(self) -> None:
        plot = self.query_one(PassKPlot)
        plot.full_range = not plot.full_range
        self._draw_curves()

    def action_curves(self) -> None:
        if not self.validated:
            self.notify("No review labels for these runs: `reachscope review` builds a queue, "
                        "R labels it")
            return
        self.show_validated = not self.show_validated
        self._draw_curves()

    def _show_cell(self, row: int, column: int, ids: list[int]) -> None:
        """List the problems of a transition cell: idx, and c/n in both runs."""
        self.cell_ids = ids
        ev = self.evidence
        listing = self.query_one("#cell-problems", DataTable)
        if ev is None or not ev.pairs or not 0 <= row < 12 or not 0 <= column < 12:
            listing.display = False
            self.query_one("#cell-title", Static).update("")
            return
        pair = ev.pairs[0]
        by_id = pair.transition_ids or pair.transitions
        idx = dict(zip(by_id.cells[row][column], pair.transitions.cells[row][column]))
        counts = {}
        for rc in self.comparison.runs:
            counts[rc.run.id] = dict(zip(rc.problem_ids, zip(rc.n.tolist(), rc.c.tolist())))
        a, b = self.comparison.runs[0], self.comparison.runs[1]
        rows = []
        for pid in ids:
            na, ca = counts[a.run.id].get(pid, (0, 0))
            nb, cb = counts[b.run.id].get(pid, (0, 0))
            rows.append([str(idx.get(pid, pid)), f"{ca}/{na}", f"{cb}/{nb}"])
        self.query_one("#cell-title", Static).update(
            f"{pair.base} {SHORT[row]} → {pair.other} {SHORT[column]}: {len(ids)} problem"
            f"{'' if len(ids) == 1 else 's'}" + (" (Enter on one opens it)" if ids else ""))
        listing.display = bool(ids)
        fill_table(listing, ["problem", pair.base, pair.other], rows,
                   keys=[str(pid) for pid in ids])

    @on(TransitionTable.Highlighted)
    def _cell_highlighted(self, message: TransitionTable.Highlighted) -> None:
        self._show_cell(message.row, message.column, message.problem_ids)

    @on(TransitionTable.Picked)
    def _cell_picked(self, message: TransitionTable.Picked) -> None:
        self._show_cell(message.row, message.column, message.problem_ids)
        if message.problem_ids:
            self.query_one("#cell-problems", DataTable).focus()

    @on(DataTable.RowSelected, "#cell-problems")
    def _problem_picked(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.app.open_problem(int(event.row_key.value))

    def action_likelihood(self) -> None:
        from .likelihood import LikelihoodScreen

        self.app.push_screen(LikelihoodScreen([rc.run for rc in self.comparison.runs],
                                              self.app.grader_choice))

    def action_trajectory(self) -> None:
        self.app.open_trajectory()
