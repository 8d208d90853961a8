"""Live: runs being written by another process, with progress, curves and coverage updating."""

from __future__ import annotations

import time

from reachscope.store import Run
from reachscope.store.counts import max_samples
from reachscope.store.grades import graders_of_run
from reachscope.store.runs import list_runs, run_progress, run_state
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static

from ..messages import ComparisonLoaded, ProgressLoaded, RunsChanged
from ..widgets.passk_plot import PassKPlot
from ..widgets.run_progress import RunProgressTable
from .base import AppScreen


def live_runs(runs: list[Run], run_a: Run | None, run_b: Run | None,
              seen_running: set[int] | frozenset[int] = frozenset()) -> list[Run]:
    """Runs the monitor plots: run A first, then the runs on its dataset that are (or were,
    while the monitor was open) running, then run B. Coverage is for the first two, so a
    running run is compared with A while it fills."""
    live = [r for r in runs if r.status == "running" or r.id in seen_running]
    if run_a is None:
        return live
    out = [run_a] + [r for r in live if r.dataset == run_a.dataset and r.id != run_a.id]
    if run_b is not None and run_b not in out:
        out.append(run_b)
    return out


class LiveScreen(AppScreen):
    """Progress of every run; curves and coverage of the runs that are filling."""

    BINDINGS = [Binding("escape", "app.back", "Back")]

    def __init__(self) -> None:
        super().__init__()
        #: Monotonic time when the plotted curves last changed (the live-latency bench reads it).
        self.curves_changed_at: float | None = None
        self._curves: dict[str, list[float]] = {}
        self._plotted: list[int] = []
        self._seen_running: set[int] = set()

    def compose(self) -> ComposeResult:
        yield Header()
        yield RunProgressTable(id="progress")
        yield Static("", markup=False, id="live-coverage")
        yield PassKPlot(id="live-plot")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PassKPlot).show_message("loading…")
        self.load_progress(None)
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        self.query_one(RunProgressTable).tick(time.monotonic())

    @work(thread=True, exclusive=True, group="live-progress", exit_on_error=False)
    def load_progress(self, run_ids: set[int] | None) -> None:
        """Re-read progress for ``run_ids`` (all runs when None), then curves if they moved."""
        app = self.app

        def fetch(db):  # noqa: ANN001, ANN202
            runs = list_runs(db)
            # Aggregate-only runs (imported counts) have no samples: nothing to show as
            # stored or graded, so they are not progress rows.
            wanted = [r for r in runs if (run_ids is None or r.id in run_ids)
                      and not r.aggregate_only]
            return runs, [run_progress(db, r.id) for r in wanted]

        runs, progress = app.source.query(fetch)
        at = time.monotonic()
        by_id = {r.id: r for r in runs}
        # Read, not assigned, here: the handler of ProgressLoaded keeps the runs on the UI thread.
        seen = self._seen_running | {r.id for r in runs if r.status == "running"}
        # The pair may have been chosen before a status changed; use fresh rows.
        plotted = live_runs(runs, by_id.get(app.run_a.id) if app.run_a else None,
                            by_id.get(app.run_b.id) if app.run_b else None, seen)
        self.post_message(ProgressLoaded(progress, at, runs))
        if run_ids is None or {r.id for r in plotted} & run_ids or \
                [r.id for r in plotted] != self._plotted:
            self._load_curves(plotted)

    def _load_curves(self, runs: list[Run]) -> None:
        from reachscope.core import analysis, metrics

        def compute(db):  # noqa: ANN001, ANN202
            graded = [r for r in runs if graders_of_run(db, r.id)]
            if not graded:
                return None
            ks = metrics.log2_ks(max_samples(db, [r.id for r in graded]))
            return ks, analysis.compare(db, graded, ks=ks, bootstrap=0)

        result = self.app.source.query(compute)
        if result is not None:
            self.post_message(ComparisonLoaded(result[1], result[0]))

    @on(ProgressLoaded)
    def _progress(self, message: ProgressLoaded) -> None:
        if message.runs:
            self.app.runs = message.runs
            self._seen_running |= {r.id for r in message.runs if r.status == "running"}
        self.query_one(RunProgressTable).observe(message.progress, message.at)

    @on(ComparisonLoaded)
    def _curves_loaded(self, message: ComparisonLoaded) -> None:
        comp = message.comparison
        self._plotted = [rc.run.id for rc in comp.runs]
        curves = {k: [float(x) for x in comp.curves[k]] for k in comp.keys}
        if curves != self._curves:
            self._curves = curves
            self.curves_changed_at = time.monotonic()
        running = any(run_state(rc.run) == "running" for rc in comp.runs)
        self.query_one(PassKPlot).show_curves(
            comp.ks, curves, title="mean pass@k (live)" if running else "mean pass@k")
        cov = self.query_one("#live-coverage", Static)
        if comp.coverage is not None:
            c = comp.coverage.as_counts()
            a, b = comp.keys[0], comp.keys[1]
            cov.update(f"coverage {a} vs {b}: both {c['both']} · only {a} {c['only_a']} · "
                       f"only {b} {c['only_b']} · neither {c['neither']}"
                       f" (problems graded by both: {len(comp.shared_problems)})")
        else:
            cov.update("coverage needs two graded runs on the same dataset")

    @on(RunsChanged)
    def _runs_changed(self, message: RunsChanged) -> None:
        self.load_progress(set(message.run_ids))
