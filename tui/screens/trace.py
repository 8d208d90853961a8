"""Trace: one completion, readable, with its extracted answer and annotations."""

from __future__ import annotations

from reachscope.core import browse
from reachscope.store import open_db, reads, writes
from reachscope.store.reads import SampleRow
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Markdown, Static

from ..messages import AnnotationSaved, TraceLoaded
from .annotate import AnnotateScreen
from .base import AppScreen
from .problem import verdict_text


class TraceScreen(AppScreen):
    """A sample's full completion; next/previous move within its set."""

    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("n,right", "step(1)", "Next"),
        Binding("p,left", "step(-1)", "Prev"),
        Binding("a", "annotate", "Annotate"),
        Binding("d", "diff", "Diff"),
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
        yield Static("", id="trace-head")
        yield Static("", id="trace-answer")
        with VerticalScroll(id="trace-box"):
            yield Markdown("", id="trace")
        yield Static("", id="trace-notes")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#trace-box").focus()
        self.load_trace()

    @work(thread=True, exclusive=True, group="trace", exit_on_error=False)
    def load_trace(self) -> None:
        sample = self.sample
        text, notes = self.app.source.query(
            lambda db: (reads.sample_text(db, sample.id), reads.annotations_of(db, sample.id)))
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
        self.query_one("#trace", Markdown).update(browse.trace_markdown(message.text, s.answer))
        self.query_one("#trace-box", VerticalScroll).scroll_home(animate=False)
        self._show_notes()

    def _show_notes(self) -> None:
        notes = self.query_one("#trace-notes", Static)
        notes.display = bool(self.annotations)
        text = Text()
        for a in self.annotations:
            text.append("● ", style="cyan")
            text.append(a["label"], style="bold")
            text.append(f" — {a['note']}\n" if a["note"] else "\n")
        text.rstrip()
        notes.update(text)

    def action_step(self, step: int) -> None:
        new = self.index + step
        if 0 <= new < len(self.samples):
            self.index = new
            self.load_trace()

    def action_annotate(self) -> None:
        def save(result: tuple[str, str] | None) -> None:
            if result is not None:
                self.save_annotation(self.sample.id, *result)

        self.app.push_screen(AnnotateScreen(self.sample), save)

    @work(thread=True, group="annotate", exit_on_error=False)
    def save_annotation(self, sample_id: int, label: str, note: str) -> None:
        # The app's own connections are read-only; writing an annotation is the one moment the
        # file is opened for writing, briefly.
        db = open_db(self.app.db_path)
        try:
            annotation_id = writes.add_annotation(db, sample_id, label, note)
        finally:
            db.close()
        self.post_message(AnnotationSaved(sample_id, annotation_id))

    @on(AnnotationSaved)
    def _saved(self, message: AnnotationSaved) -> None:
        self.notify(f"Annotation saved on sample {message.sample_id}")
        if message.sample_id == self.sample.id:
            self.load_trace()

    def action_diff(self) -> None:
        from .diff import DiffScreen

        self.app.push_screen(DiffScreen(self.sample.problem_id, self.sample.id))
