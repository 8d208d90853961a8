"""Review: walk a review queue and label each sample by one key (issue 13).

The screen shows the problem, its reference answer and the sample's full trace, resumes at the
reviewer's first unlabelled item and moves to the next one after each label. Labels are
annotations (one per sample and reviewer), written through the annotation writer only; a blind
queue never shows an item's run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from reachscope.core.review import LABEL_KEYS, REVIEW_LABELS
from reachscope.store.annotations import delete_label, label_of, set_label
from reachscope.store.problems import ProblemRow, problems_of
from reachscope.store.review import ReviewItem, ReviewQueue, item_at, list_queues, next_item
from reachscope.store.review import queue_progress as _progress
from reachscope.store.samples import sample_info, sample_text
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Header, Input, Rule, Static
from textual.worker import Worker, WorkerState

from ..messages import RunsChanged
from ..widgets.footer import AppFooter
from ..widgets.trace_view import TraceView
from .base import AppScreen

NO_QUEUE = ("No review queue in this database. Build one with\n"
            "  reachscope review DB --runs base rl\n"
            "(the runs to review), then press ctrl+r here.")

#: Where to go: ("resume",), ("at", position) or ("next", after position).
Target = tuple[Any, ...]


@dataclass
class QueuesListed(Message):
    queues: list[ReviewQueue]


@dataclass
class ItemShown(Message):
    """A queue position read (``item`` None: the reviewer has labelled every item)."""

    queue_id: int
    item: ReviewItem | None
    problem: ProblemRow | None = None
    text: str = ""
    answer: str | None = None
    current: dict[str, Any] | None = None  # the reviewer's label on the item
    done: int = 0
    notice: str = ""  # shown as a notification
    last: str = ""  # the label just written, shown in the head line (no toast per label)
    #: A label just written: ``(sample id, position, the label it replaced)``, for undo.
    written: tuple[int, int, dict[str, Any] | None] | None = None


def read_item(db: sqlite_utils.Database, queue: ReviewQueue, reviewer: str,
              target: Target) -> ItemShown:
    """What the screen shows for ``target``: the item, its problem, trace and label."""
    if target[0] == "resume":
        item = next_item(db, queue.id, reviewer, REVIEW_LABELS)
    elif target[0] == "next":
        item = (next_item(db, queue.id, reviewer, REVIEW_LABELS, after=target[1])
                or next_item(db, queue.id, reviewer, REVIEW_LABELS))
    else:
        item = item_at(db, queue.id, target[1])
    done = _progress(db, queue.id, REVIEW_LABELS).get(reviewer, 0)
    if item is None:
        return ItemShown(queue.id, None, done=done)
    grader = queue.params.get("graders", {}).get(f"{item.dataset}/{item.run_label}")
    info = sample_info(db, item.sample_id, grader) or {}
    return ItemShown(queue.id, item, problems_of(db, [item.problem_id]).get(item.problem_id),
                     sample_text(db, item.sample_id), info.get("answer"),
                     label_of(db, item.sample_id, reviewer), done)


def label_bindings() -> list[Binding]:
    return [Binding(key, f"label('{label}')", label.capitalize(), tooltip=f"Label: {label}")
            for key, label in LABEL_KEYS.items()]


class ReviewScreen(AppScreen):
    """One queue item at a time: ``v f g a s`` label it, ``u`` undoes, ``]``/``[`` move."""

    DEFAULT_CSS = """
    #review-head { height: auto; padding: 0 1; }
    #review-problem { height: auto; max-height: 6; border-left: blank; }
    #review-problem:focus { border-left: thick $accent; }
    #review-problem-text { margin: 0 1; }
    #review-rule { margin: 0; color: $primary-darken-2; }
    #review-trace { height: 1fr; }
    #review-note { margin: 0 1; }
    """

    BINDINGS = [
        *label_bindings(),
        Binding("u", "undo", "Undo", tooltip="Undo the last label of this session"),
        Binding("n", "note", "Note", tooltip="Edit the note saved with the label"),
        Binding("right_square_bracket", "step(1)", "Next", key_display="]",
                tooltip="Next item, without labelling"),
        Binding("left_square_bracket", "step(-1)", "Prev", key_display="[", show=False,
                tooltip="Previous item, without labelling"),
        Binding("K", "agreement", "Agree", tooltip="Reviewers: agreement (Cohen's kappa)"),
        Binding("c", "choose_queue", "Queues", show=False, tooltip="Choose another queue"),
        Binding("r", "raw", "Raw", show=False, tooltip="Raw text / LaTeX shown as Unicode"),
        Binding("escape", "back", "Back", show=False, tooltip="Back (closes the note first)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queues: list[ReviewQueue] = []
        self.queue: ReviewQueue | None = None
        self.shown: ItemShown | None = None
        #: Labels written in this session, newest last: (sample id, position, label replaced).
        self.history: list[tuple[int, int, dict[str, Any] | None]] = []
        #: A note typed before the item has a label: saved with the label.
        self.pending_note = ""
        self.busy = False

    @property
    def reviewer(self) -> str:
        return str(getattr(self.app, "reviewer", ""))

    @property
    def item(self) -> ReviewItem | None:
        return self.shown.item if self.shown is not None else None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", markup=False, id="review-head")
        with VerticalScroll(id="review-problem"):
            yield Static("", markup=False, id="review-problem-text")
        yield Rule(id="review-rule")
        yield TraceView(id="review-trace")
        yield Input(placeholder="note (enter: keep, escape: close)", id="review-note",
                    compact=True)
        yield AppFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#review-note", Input).display = False
        self.query_one("#review-problem", VerticalScroll).display = False
        self.query_one("#review-rule", Rule).display = False
        self.query_one(TraceView).focus()
        self.load_queues()

    # -- loading -------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="review-queues", exit_on_error=False)
    def load_queues(self) -> None:
        self.post_message(QueuesListed(self.app.source.query(list_queues)))

    @on(QueuesListed)
    def _queues_listed(self, message: QueuesListed) -> None:
        self.queues = message.queues
        if self.queue is not None:
            same = [q for q in self.queues if q.id == self.queue.id]
            if same:
                self.queue = same[0]
                self.go(("at", self.item.position) if self.item else ("resume",))
                return
            self.queue = None
        if not self.queues:
            self.query_one("#review-head", Static).update(Text(NO_QUEUE))
            self.sub_title = "review: no queue"
        elif len(self.queues) == 1:
            self.start(self.queues[0])
        else:
            self.action_choose_queue()

    def start(self, queue: ReviewQueue) -> None:
        self.queue, self.shown, self.history, self.pending_note = queue, None, [], ""
        self.go(("resume",))

    def go(self, target: Target) -> None:
        if self.queue is not None:
            self.busy = True
            self.read(self.queue, target)

    @work(thread=True, exclusive=True, group="review-read", exit_on_error=False)
    def read(self, queue: ReviewQueue, target: Target) -> None:
        reviewer = self.reviewer
        self.post_message(self.app.source.query(lambda db: read_item(db, queue, reviewer,
                                                                     target)))

    @on(ItemShown)
    def _shown(self, message: ItemShown) -> None:
        self.busy = False
        if self.queue is None or message.queue_id != self.queue.id:
            return
        if message.written is not None:
            self.history.append(message.written)
        if (self.item is None or message.item is None
                or message.item.position != self.item.position):
            self.pending_note = ""
        self.shown = message
        self._show_head()
        box = self.query_one("#review-problem", VerticalScroll)
        view = self.query_one(TraceView)
        if message.item is None:
            box.display = self.query_one("#review-rule", Rule).display = False
            view.show(f"All {self.queue.size} items of this queue are labelled by "
                      f"{self.reviewer or 'you'}.\n\n[ goes back to the last item; K shows "
                      "how reviewers agree.")
        else:
            box.display = self.query_one("#review-rule", Rule).display = True
            self.query_one("#review-problem-text", Static).update(self._problem_text())
            box.scroll_home(animate=False)
            view.show(message.text, message.answer)
        if message.notice:
            self.notify(message.notice, timeout=2)

    def _show_head(self) -> None:
        queue, shown = self.queue, self.shown
        if queue is None or shown is None:
            return
        progress = f"{shown.done} / {queue.size}"
        self.sub_title = f"review {progress} · {self.reviewer or 'anonymous'}"
        head = Text.assemble(("review ", "dim"), (progress, "bold"), "  ",
                             (self.reviewer or "anonymous", "bold"))
        item = shown.item
        if item is not None:
            head.append(f"  item {item.position + 1} · problem {item.problem_idx}")
            head.append(f" · {item.run_label}" if not queue.blind else " · blind", "dim")
        if not self._can_label():
            head.append("  read-only", "bold yellow")
        if shown.current is not None:
            head.append("  label: ", "dim")
            head.append(shown.current["label"], "bold reverse")
        note = shown.current["note"] if shown.current else self.pending_note
        if note:
            head.append(f"  note: {note}", "italic")
        if shown.last:
            head.append(f"  ✓ {shown.last}", "dim")
        self.query_one("#review-head", Static).update(head)

    def _problem_text(self) -> Text:
        shown = self.shown
        assert shown is not None
        problem = shown.problem
        text = Text()
        text.append("reference: ", "dim")
        text.append(problem.answer if problem and problem.answer is not None else "none", "bold")
        text.append("   answer: ", "dim")
        text.append(shown.answer if shown.answer is not None else "none", "bold")
        text.append("\n")
        text.append(problem.prompt or "(no problem text stored)" if problem else "")
        return text

    @on(RunsChanged)
    def _runs_changed(self, message: RunsChanged) -> None:
        self.load_queues()  # ctrl+r, or a queue built meanwhile

    # -- labelling -----------------------------------------------------------------------------

    def _can_label(self) -> bool:
        return bool(getattr(self.app, "allow_labels", True))

    def _refuse(self) -> bool:
        """Tell why labels are off, in a read-only session; True when they are."""
        if self._can_label():
            return False
        why = ("the file is opened with --immutable" if getattr(self.app, "immutable", False)
               else "serve with --allow-labels to label")
        self.notify(f"Read-only session: labels are not saved ({why})", severity="warning")
        return True

    def action_label(self, label: str) -> None:
        item = self.item
        if item is None or self.busy or self._refuse():
            return
        note = self.shown.current["note"] if self.shown and self.shown.current else ""
        self.busy = True
        self.write(item, label, self.pending_note or note)

    def write(self, item: ReviewItem, label: str, note: str) -> None:
        def change(db: sqlite_utils.Database) -> dict[str, Any]:
            before = label_of(db, item.sample_id, self.reviewer)
            set_label(db, item.sample_id, label, note, self.reviewer)
            return {"last": f"{label}: item {item.position + 1}",
                    "written": (item.sample_id, item.position, before)}

        self.commit(change, ("next", item.position))

    @work(thread=True, group="review-write", exit_on_error=False)
    def commit(self, change: Callable[[sqlite_utils.Database], dict[str, Any]],
               target: Target) -> None:
        """Write through the annotation writer, then read what to show next."""
        from reachscope.store.db import open_annotation_writer

        reviewer, queue = self.reviewer, self.queue
        assert queue is not None
        db = open_annotation_writer(self.app.db_path)  # no WAL, no migration: the file stays
        try:
            fields = change(db)
        finally:
            db.close()
        shown = self.app.source.query(lambda rdb: read_item(rdb, queue, reviewer, target))
        for name, value in fields.items():
            setattr(shown, name, value)
        self.post_message(shown)

    def action_undo(self) -> None:
        if self.busy or self._refuse():
            return
        if not self.history:
            self.notify("Nothing to undo in this session", timeout=2)
            return
        self.busy = True
        self.unlabel(*self.history.pop())

    def unlabel(self, sample_id: int, position: int, before: dict[str, Any] | None) -> None:
        def change(db: sqlite_utils.Database) -> dict[str, Any]:
            if before is None:
                delete_label(db, sample_id, self.reviewer)
            else:  # the label this session replaced comes back
                set_label(db, sample_id, before["label"], before["note"], self.reviewer)
            return {"notice": f"undone: item {position + 1}"}

        self.commit(change, ("at", position))

    def action_note(self) -> None:
        if self.item is None or self._refuse():
            return
        box = self.query_one("#review-note", Input)
        current = self.shown.current if self.shown else None
        box.value = current["note"] if current else self.pending_note
        box.display = True
        box.focus()

    @on(Input.Submitted, "#review-note")
    def _note_entered(self, event: Input.Submitted) -> None:
        note = event.value.strip()
        self._close_note()
        item, current = self.item, self.shown.current if self.shown else None
        if item is None:
            return
        if current is None:
            self.pending_note = note
            self._show_head()
            self.notify("Note kept: it is saved with the label", timeout=2)
        elif not self.busy:
            self.busy = True
            self.save_note(item, current["label"], note)

    def save_note(self, item: ReviewItem, label: str, note: str) -> None:
        def change(db: sqlite_utils.Database) -> dict[str, Any]:
            set_label(db, item.sample_id, label, note, self.reviewer)
            return {"notice": "note saved"}

        self.commit(change, ("at", item.position))

    def _close_note(self) -> None:
        self.query_one("#review-note", Input).display = False
        self.query_one(TraceView).focus()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        super().on_worker_state_changed(event)
        if event.state == WorkerState.ERROR:
            self.busy = False  # a failed write or read is reported; the keys work again

    # -- moving --------------------------------------------------------------------------------

    def action_step(self, step: int) -> None:
        if self.queue is None or self.busy:
            return
        position = self.item.position if self.item is not None else self.queue.size
        new = position + step
        if 0 <= new < self.queue.size:
            self.go(("at", new))
        else:
            self.notify("First item" if new < 0 else "Last item", timeout=2)

    def goto(self, position: int | None) -> None:
        if position is not None:
            self.go(("at", position))

    def action_agreement(self) -> None:
        from .reviewers import ReviewersScreen

        if self.queue is None:
            self.notify("No review queue yet", severity="warning")
            return
        self.app.push_screen(ReviewersScreen(self.queue), self.goto)

    def action_choose_queue(self) -> None:
        from .review_queues import QueuePicker

        if len(self.queues) < 2:
            self.notify("This database has one review queue" if self.queues
                        else "No review queue yet", timeout=2)
            return

        def chosen(queue: ReviewQueue | None) -> None:
            if queue is not None:
                self.start(queue)
            elif self.queue is None:
                self.app.action_back()

        self.app.push_screen(QueuePicker(self.queues, self.reviewer), chosen)

    def action_raw(self) -> None:
        self.query_one(TraceView).toggle_raw()

    def action_back(self) -> None:
        if self.query_one("#review-note", Input).display:
            self._close_note()
        else:
            self.app.action_back()
