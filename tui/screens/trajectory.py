"""Trajectory: the runs of a dataset as checkpoints along training, each against the base
(`reachscope report --trajectory`): pass@1, pass@K, dSE, coverage and answer entropy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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
from ..widgets.trajectory_plot import TrajectoryPlot
from .base import AppScreen
from .compare import has_grades, read_only_table

if TYPE_CHECKING:
    from reachscope.core.trajectory import Trajectory


@dataclass
class TrajectoryLoaded(Message):
    trajectory: Trajectory
    header: list[str]
    rows: list[list[str]]
    waiting: list[str]  # runs left out: no grades yet


@dataclass
class TrajectoryWaiting(Message):
    """Fewer than two runs have grades yet."""

    waiting: list[str]


class TrajectoryScreen(AppScreen):
    """The checkpoint trajectory of ``runs`` (ordered by step in label or model, else by
    creation time), computed in a worker when the screen opens."""

    DEFAULT_CSS = """
    TrajectoryScreen #trajectory-body { height: 1fr; border-left: blank; }
    TrajectoryScreen #trajectory-body:focus { border-left: thick $accent; }
    TrajectoryScreen #trajectory-plot { height: 12; }
    TrajectoryScreen.-wide #trajectory-plot { height: 20; }
    TrajectoryScreen #trajectory-table { height: auto; margin: 1 0; }
    TrajectoryScreen #trajectory-notes { height: auto; color: $text-muted; }
    """
    SCOPED_CSS = False  # the rules name the screen (its -wide class) themselves

    BINDINGS = [Binding("escape", "app.back", "Back")]

    def __init__(self, runs: list[Run], grader: str | None = None) -> None:
        super().__init__()
        self.runs = runs
        self.grader = grader
        self.trajectory: Trajectory | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="trajectory-body"):
            yield TrajectoryPlot(id="trajectory-plot")
            yield read_only_table(DataTable(id="trajectory-table", cursor_type="row",
                                            show_cursor=False))
            yield Static("computing the trajectory…", markup=False, id="trajectory-notes")
        yield AppFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = f"trajectory: {len(self.runs)} runs of {self.runs[0].dataset}"
        self.query_one("#trajectory-body").focus()
        self.load_trajectory()

    @work(thread=True, exclusive=True, group="trajectory", exit_on_error=False)
    def load_trajectory(self) -> None:
        from reachscope.core.commands.report_evidence import trajectory_rows
        from reachscope.core.trajectory import trajectory

        def compute(db):  # noqa: ANN001, ANN202
            # A run a sampler has started but not graded yet is left out (and named).
            graded = [r for r in self.runs if has_grades(db, r, self.grader)]
            if len(graded) < 2:
                return None, graded
            return trajectory(db, graded, None, self.grader), graded

        tr, graded = self.app.source.query(compute)
        waiting = [r.label for r in self.runs if r not in graded]
        if tr is None:
            self.post_message(TrajectoryWaiting(waiting))
            return
        header, rows = trajectory_rows(tr)
        self.post_message(TrajectoryLoaded(tr, header, rows, waiting))

    @on(RunsChanged)
    def _runs_changed(self, message: RunsChanged) -> None:
        if {r.id for r in self.runs} & message.run_ids:
            self.load_trajectory()

    @on(TrajectoryWaiting)
    def _waiting(self, message: TrajectoryWaiting) -> None:
        self.query_one("#trajectory-notes", Static).update(
            f"no grades yet: {', '.join(message.waiting)}; a trajectory needs graded runs")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        super().on_worker_state_changed(event)
        if event.state == WorkerState.ERROR:
            self.query_one("#trajectory-notes", Static).update(
                f"the trajectory failed: {event.worker.error}")

    @on(TrajectoryLoaded)
    def _loaded(self, message: TrajectoryLoaded) -> None:
        tr = self.trajectory = message.trajectory
        fill_table(self.query_one("#trajectory-table", DataTable), message.header,
                   [[Text(c) for c in row] for row in message.rows])
        self.query_one(TrajectoryPlot).show(
            [r.key for r in tr.rows],
            {"pass@1": [r.pass_at_1 for r in tr.rows],
             f"pass@{tr.k}": [r.pass_at_k for r in tr.rows]})
        waiting = (f"left out, no grades yet: {', '.join(message.waiting)}. "
                   if message.waiting else "")
        self.query_one("#trajectory-notes", Static).update(
            waiting + f"against {tr.base}, K = {tr.k} (the smallest n); dSE = pass@K({tr.base}) − "
            "pass@1(run); both / only base / only run: problems solved (≥ 1 correct); "
            "H: mean answer entropy. Order: the step in the label or model name, else "
            "creation time (report --trajectory --order sets it).")
