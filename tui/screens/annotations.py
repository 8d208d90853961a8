"""Annotations: every label of a run, filterable by label; Enter opens the labelled trace."""

from __future__ import annotations

from typing import Any

from reachscope.core.browse import ANNOTATION_LABELS
from reachscope.store import annotations
from reachscope.store.grades import graders_of_run, resolve_grader
from reachscope.store.samples import SampleRow
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Select, Static

from ..messages import AnnotationsLoaded, RunsChanged
from ..widgets.cells import literal
from .base import AppScreen


class AnnotationsScreen(AppScreen):
    """The labels of run A (or B, with ``r``), newest first."""

    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("r", "other_run", "Run A/B"),
        Binding("l", "focus_filter", "Label filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.which = "a"
        self.label: str | None = None
        self.rows: list[tuple[dict[str, Any], SampleRow]] = []
        self.shown: list[tuple[dict[str, Any], SampleRow]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", markup=False, id="annotations-head")
        yield Select([], prompt="all labels", id="label-filter", compact=True)
        yield DataTable(id="annotations", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#annotations", DataTable).focus()
        self.load()

    @property
    def run(self):  # noqa: ANN201
        return self.app.run_b if self.which == "b" and self.app.run_b else self.app.run_a

    @work(thread=True, exclusive=True, group="annotations", exit_on_error=False)
    def load(self) -> None:
        app, run = self.app, self.run
        if run is None:
            return

        def fetch(db):  # noqa: ANN001, ANN202
            grader = app.graders.get(run.id)
            if grader is None and graders_of_run(db, run.id):
                grader = resolve_grader(db, run)
            return annotations.annotated_samples(db, run.id, grader)

        self.post_message(AnnotationsLoaded(run.id, app.source.query(fetch)))

    @on(AnnotationsLoaded)
    def _loaded(self, message: AnnotationsLoaded) -> None:
        self.rows = message.rows
        present = {n["label"] for n, _ in self.rows}
        labels = [*ANNOTATION_LABELS, *sorted(present - set(ANNOTATION_LABELS))]
        select = self.query_one("#label-filter", Select)
        with select.prevent(Select.Changed):
            select.set_options([(label, label) for label in labels])
            if self.label in labels:
                select.value = self.label
            else:
                self.label = None
        self.show()

    def show(self) -> None:
        run = self.run
        self.shown = [(n, s) for n, s in self.rows
                      if self.label is None or n["label"] == self.label]
        name = run.label if run is not None else "—"
        self.query_one("#annotations-head", Static).update(
            f"labels on {name}: {len(self.shown)} of {len(self.rows)}"
            + ("" if self.rows else " (label a trace with a)"))
        table = self.query_one("#annotations", DataTable)
        table.clear(columns=True)
        table.add_columns("problem", "#", "verdict", "label", "reviewer", "note")
        for n, s in self.shown:
            table.add_row(str(n["problem_idx"]), str(s.sample_idx), s.verdict or "ungraded",
                          literal(n["label"]), literal(n["reviewer"] or "—"), literal(n["note"]))

    @on(Select.Changed, "#label-filter")
    def _filtered(self, event: Select.Changed) -> None:
        self.label = None if event.value == Select.NULL else str(event.value)
        self.show()

    @on(DataTable.RowSelected, "#annotations")
    def _open(self, event: DataTable.RowSelected) -> None:
        from .trace import TraceScreen

        samples = [s for _, s in self.shown]
        if samples:
            self.app.push_screen(TraceScreen(samples, event.cursor_row))

    def on_screen_resume(self) -> None:
        self.load()  # a label may have been edited in the trace

    @on(RunsChanged)
    def _runs_changed(self, message: RunsChanged) -> None:
        self.load()

    def action_other_run(self) -> None:
        self.which = "b" if self.which == "a" else "a"
        self.load()

    def action_focus_filter(self) -> None:
        self.query_one("#label-filter", Select).focus()
