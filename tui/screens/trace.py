"""Trace: one completion, readable, with its extracted answer and annotations."""

from __future__ import annotations

from reachscope.store import annotations
from reachscope.store.samples import SampleRow, sample_text
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Input, Static

from ..messages import AnnotationSaved, TraceLoaded
from ..widgets.trace_view import TraceView
from .annotate import AnnotateScreen
from .base import AppScreen
from .problem import verdict_text


class TraceScreen(AppScreen):
    """A sample's full completion; ``]``/``[`` move within its set.

    Arrows, page keys and the mouse scroll the trace (it is wrapped, so there is nothing to
    scroll sideways); ``/`` searches it and ``n``/``N`` go from match to match.
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("right_square_bracket", "step(1)", "Next", key_display="]",
                tooltip="Next sample of this run"),
        Binding("left_square_bracket", "step(-1)", "Prev", key_display="[", show=False,
                tooltip="Previous sample of this run"),
        Binding("slash", "search", "Find", key_display="/", tooltip="Search this trace"),
        Binding("n", "match(1)", "Match", tooltip="Next match of the search"),
        Binding("N", "match(-1)", "Previous match", show=False,
                tooltip="Previous match of the search"),
        Binding("r", "raw", "Raw", tooltip="Raw text / LaTeX shown as Unicode"),
        Binding("a", "annotate", "Label", tooltip="Label this sample"),
        Binding("d", "diff", "Diff", tooltip="Diff with the most similar sample of the other run"),
    ]

    def __init__(self, samples: list[SampleRow], index: int) -> None:
        super().__init__()
        self.samples = samples
        self.index = index
        self.text = ""
        self.annotations: list[dict] = []

    @property
    def sample(self) -> SampleRow:
        return self.samples[self.index]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", markup=False, id="trace-head")
        yield Static("", markup=False, id="trace-answer")
        yield TraceView(id="trace-box")
        yield Input(placeholder="search this trace (enter: find, escape: close)",
                    id="trace-search", compact=True)
        yield Static("", markup=False, id="trace-notes")
        # Compact and without the palette hint (ctrl+p still works, ? lists it): every key
        # fits at 80 columns.
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#trace-search", Input).display = False
        self.query_one(TraceView).focus()
        self.load_trace()

    @work(thread=True, exclusive=True, group="trace", exit_on_error=False)
    def load_trace(self) -> None:
        sample = self.sample
        text, notes = self.app.source.query(
            lambda db: (sample_text(db, sample.id),
                        annotations.annotations_of(db, sample.id)))
        self.post_message(TraceLoaded(sample, text, notes))

    @on(TraceLoaded)
    def _loaded(self, message: TraceLoaded) -> None:
        if message.sample.id != self.sample.id:
            return  # the user has moved on
        s = message.sample
        self.text, self.annotations = message.text, message.annotations
        head = Text.assemble(
            (self.app.label_of(s.run_id), "bold"),
            f"  sample {s.sample_idx} ({self.index + 1} of {len(self.samples)})  ",
            verdict_text(s.verdict),
            f"  {s.length:,} chars", f" · {s.n_tokens} tokens" if s.n_tokens else "",
            f" · finish: {s.finish_reason}" if s.finish_reason else "")
        self.query_one("#trace-head", Static).update(head)
        answer = Text.assemble(("extracted answer: ", "dim"),
                               (s.answer if s.answer is not None else "none",
                                "bold reverse green" if s.verdict == "correct" else
                                "bold reverse red"))
        self.query_one("#trace-answer", Static).update(answer)
        self.query_one(TraceView).show(message.text, s.answer)
        self._show_notes()

    def _show_notes(self) -> None:
        notes = self.query_one("#trace-notes", Static)
        notes.display = bool(self.annotations)
        text = Text()
        for a in self.annotations:
            text.append("● ", style="cyan")
            text.append(a["label"], style="bold")
            if a.get("reviewer"):
                text.append(f" ({a['reviewer']})", style="dim")
            text.append(f" — {a['note']}\n" if a["note"] else "\n")
        text.rstrip()
        notes.update(text)

    # -- search and display --------------------------------------------------------------------

    def action_search(self) -> None:
        box = self.query_one("#trace-search", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#trace-search")
    def _search(self, event: Input.Submitted) -> None:
        view = self.query_one(TraceView)
        found = view.search(event.value)
        event.input.display = False
        view.focus()
        if event.value:
            self.notify(f"{found} match{'es' if found != 1 else ''} for {event.value!r}"
                        + (" · n: next, N: previous" if found > 1 else ""), timeout=3)

    def action_back(self) -> None:
        box = self.query_one("#trace-search", Input)
        if box.display:
            box.display = False
            self.query_one(TraceView).focus()
        else:
            self.app.action_back()

    def action_match(self, step: int) -> None:
        view = self.query_one(TraceView)
        if not view.query_text:
            self.notify("Press / to search this trace first", timeout=3)
        elif not view.next_match(step):
            self.notify(f"No match for {view.query_text!r}", timeout=3)

    def action_raw(self) -> None:
        view = self.query_one(TraceView)
        view.toggle_raw()
        self.notify("raw text" if view.raw else "LaTeX shown as Unicode", timeout=2)

    def action_step(self, step: int) -> None:
        new = self.index + step
        if 0 <= new < len(self.samples):
            self.index = new
            self.load_trace()

    def action_annotate(self) -> None:
        if not getattr(self.app, "allow_labels", True):
            self.notify("Read-only session: labels are off (serve with --allow-labels)",
                        severity="warning")
            return
        def save(result: tuple[str, str] | None) -> None:
            if result is not None:
                self.save_annotation(self.sample.id, *result)

        reviewer = getattr(self.app, "reviewer", "")
        current = next((a for a in self.annotations if a.get("reviewer", "") == reviewer), None)
        self.app.push_screen(AnnotateScreen(self.sample, current), save)

    @work(thread=True, group="annotate", exit_on_error=False)
    def save_annotation(self, sample_id: int, label: str, note: str) -> None:
        # The app's own connections are read-only; writing an annotation is the one moment the
        # file is opened for writing, briefly.
        from reachscope.store.db import open_annotation_writer

        reviewer = getattr(self.app, "reviewer", "")
        db = open_annotation_writer(self.app.db_path)  # no WAL, no migration: the file stays as is
        try:
            if label:  # one current label per (sample, reviewer): saving again edits it
                annotation_id = annotations.set_label(db, sample_id, label, note, reviewer)
            else:  # the dialog's Delete
                annotations.delete_label(db, sample_id, reviewer)
                annotation_id = 0
        finally:
            db.close()
        self.post_message(AnnotationSaved(sample_id, annotation_id))

    @on(AnnotationSaved)
    def _saved(self, message: AnnotationSaved) -> None:
        done = "saved" if message.annotation_id else "deleted"
        self.app.generation += 1  # sample lists re-read their label marks on resume
        self.notify(f"Label {done} on sample {message.sample_id}")
        if message.sample_id == self.sample.id:
            self.load_trace()

    def action_diff(self) -> None:
        from .diff import DiffScreen

        self.app.push_screen(DiffScreen(self.sample.problem_id, self.sample.id))
