"""Likelihood: log perplexity of each run's samples under each scorer model, as histograms (the
paper's Fig. 6) and the report's median and quartiles (`reachscope score --report`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from reachscope.store import Run
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Header, Static
from textual.worker import Worker, WorkerState

from ..messages import RunsChanged
from ..widgets.cells import fill_table
from ..widgets.footer import AppFooter
from ..widgets.ppl_plot import PPLPlot, histograms, legend_of
from .base import AppScreen
from .compare import read_only_table

if TYPE_CHECKING:
    from reachscope.core.likelihood import ScoredRun


@dataclass
class ScoresLoaded(Message):
    """``(scorer, run label) -> ScoredRun`` and the likelihood report (empty: no scores)."""

    scored: dict[tuple[str, str], ScoredRun] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


class LikelihoodScreen(AppScreen):
    """Histograms of log PPL per scorer x generator; ``s`` shows one scorer's cells or all."""

    DEFAULT_CSS = """
    LikelihoodScreen #likelihood-body { height: 1fr; border-left: blank; }
    LikelihoodScreen #likelihood-body:focus { border-left: thick $accent; }
    LikelihoodScreen #ppl-plot { height: 12; }
    LikelihoodScreen.-wide #ppl-plot { height: 20; }
    LikelihoodScreen #ppl-legend, LikelihoodScreen #ppl-table { height: auto; margin-bottom: 1; }
    """
    SCOPED_CSS = False  # the rules name the screen (its -wide class) themselves

    BINDINGS = [
        Binding("s", "next_scorer", "Scorer", tooltip="Histograms of the next scorer (or all)"),
        Binding("escape", "app.back", "Back"),
    ]

    def __init__(self, runs: list[Run], grader: str | None = None) -> None:
        super().__init__()
        self.runs = runs
        self.grader = grader
        self.scored: dict[tuple[str, str], ScoredRun] = {}
        #: The scorer whose cells the plot shows (None: every cell).
        self.scorer: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="likelihood-body"):
            yield PPLPlot(id="ppl-plot")
            yield Static("", markup=False, id="ppl-legend")
            yield read_only_table(DataTable(id="ppl-table", cursor_type="row",
                                            show_cursor=False))
            yield Static("", markup=False, id="ppl-notes")
        yield AppFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "likelihood: " + ", ".join(r.label for r in self.runs)
        self.query_one(PPLPlot).show_message("reading the scores…")
        self.query_one("#likelihood-body").focus()
        self.load_scores()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        super().on_worker_state_changed(event)
        if event.state == WorkerState.ERROR:
            self.query_one("#ppl-notes", Static).update(
                f"reading the scores failed: {event.worker.error}")

    @work(thread=True, exclusive=True, group="scores", exit_on_error=False)
    def load_scores(self) -> None:
        from reachscope.core.commands.score import scored_runs
        from reachscope.core.likelihood import evidence
        from reachscope.store.db import has_table

        def read(db):  # noqa: ANN001, ANN202
            if not has_table(db, "scores"):
                return {}, {}
            scored, own = scored_runs(db, self.runs, self.grader)
            return scored, evidence(scored, own) if scored else {}

        scored, report = self.app.source.query(read)
        self.post_message(ScoresLoaded(scored, report))

    @on(RunsChanged)
    def _runs_changed(self, message: RunsChanged) -> None:
        if {r.id for r in self.runs} & message.run_ids:
            self.load_scores()

    @on(ScoresLoaded)
    def _loaded(self, message: ScoresLoaded) -> None:
        self.scored = message.scored
        plot = self.query_one(PPLPlot)
        table = self.query_one("#ppl-table", DataTable)
        if not message.scored:
            table.display = False
            plot.display = False
            plot.show_message("no scores for these runs")
            self.query_one("#ppl-notes", Static).update(
                "No scores: no sample of " + ", ".join(r.label for r in self.runs) +
                " is scored yet. "
                "`reachscope score DB --scorer base=PATH --scorer rl=PATH` scores them under "
                "each model (then reload with ctrl+r).")
            return
        plot.display = table.display = True
        rows = []
        for c in message.report["matrix"]:
            p, q = c["pooled"], c["per_problem"]
            rows.append([c["scorer"], c["run"], str(p["n"]),
                         Text(f"{_f(p['median'])} [{_f(p['q1'])}, {_f(p['q3'])}]"),
                         Text(f"{_f(q['median'])} [{_f(q['q1'])}, {_f(q['q3'])}]")])
        fill_table(table, ["scorer", "samples of", "n", "log PPL median [q1, q3]",
                           "per problem"], rows)
        notes = [f"{p['other_run']}'s samples below {p['scorer']}'s median log PPL of "
                 f"{p['own_run']}'s: {_f(p['share_below']['all'])} (own: "
                 f"{_f(p['own_share_below']['all'])})"
                 for p in message.report["placements"]]
        notes.append("log PPL = −mean log p(token | prompt, earlier tokens) over the scorer's "
                     "completion tokens")
        self.query_one("#ppl-notes", Static).update("\n".join(notes))
        self._draw()

    def cells(self) -> dict[str, np.ndarray]:
        """``"PPL_scorer(Y_run)" -> log PPL values`` of the cells shown."""
        return {f"PPL_{s}(Y_{r})": v.log_ppl for (s, r), v in self.scored.items()
                if self.scorer is None or s == self.scorer}

    def _draw(self) -> None:
        cells = self.cells()
        hist = histograms(cells)
        which = "every scorer" if self.scorer is None else f"scorer {self.scorer}"
        self.query_one(PPLPlot).show(hist, f"samples per log PPL bin, {which} (s: next)")
        self.query_one("#ppl-legend", Static).update(legend_of(list(cells)))

    def action_next_scorer(self) -> None:
        scorers = sorted({s for s, _ in self.scored})
        if not scorers:
            self.notify("no scores for these runs")
            return
        order: list[str | None] = [None, *scorers]
        self.scorer = order[(order.index(self.scorer) + 1) % len(order)]
        self._draw()
