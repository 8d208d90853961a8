"""Queue picker: which review queue to walk, when a database holds several, with how far the
current reviewer has got in each."""

from __future__ import annotations

from dataclasses import dataclass

from reachscope.core.review import REVIEW_LABELS
from reachscope.store.review import ReviewQueue, queue_progress
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


def queue_line(queue: ReviewQueue, done: int | None = None) -> str:
    """One picker line: name, the reviewer's progress (``…`` until read), blind, runs."""
    runs = ", ".join(str(r).split("/")[-1] for r in queue.params.get("runs", []))
    progress = f"{'…' if done is None else done}/{queue.size} labelled"
    return (f"{queue.name}  {progress}  {'blind' if queue.blind else 'runs shown'}"
            + (f"  ({runs})" if runs else ""))


@dataclass
class ProgressRead(Message):
    """Items of each queue (by id) carrying one of the reviewer's review labels."""

    done: dict[int, int]


class QueuePicker(ModalScreen[ReviewQueue | None]):
    """Returns the queue chosen, or None when cancelled."""

    DEFAULT_CSS = """
    QueuePicker { align: center middle; }
    #queue-picker { width: 70; max-width: 100%; height: auto; max-height: 100%;
                    border: thick $accent; background: $surface; padding: 0 1; }
    #queue-list { height: auto; max-height: 16; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, queues: list[ReviewQueue], reviewer: str) -> None:
        super().__init__()
        self.queues = queues
        self.reviewer = reviewer
        self.done: dict[int, int] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="queue-picker"):
            yield Label(f"Review queue for {self.reviewer or 'you'} (enter: open)")
            yield OptionList(*(Option(queue_line(q), id=str(q.id)) for q in self.queues),
                             id="queue-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.read_progress()

    @work(thread=True, exclusive=True, group="queue-progress", exit_on_error=False)
    def read_progress(self) -> None:
        # Read when the picker opens, not when the queues were listed: labels are per sample,
        # so labelling in one queue moves every queue holding the same samples.
        reviewer, ids = self.reviewer, [q.id for q in self.queues]
        done = self.app.source.query(lambda db: {
            qid: queue_progress(db, qid, REVIEW_LABELS).get(reviewer, 0) for qid in ids})
        self.post_message(ProgressRead(done))

    @on(ProgressRead)
    def _progress_read(self, message: ProgressRead) -> None:
        self.done = message.done
        options = self.query_one("#queue-list", OptionList)
        for q in self.queues:
            options.replace_option_prompt(str(q.id), queue_line(q, message.done.get(q.id)))

    @on(OptionList.OptionSelected, "#queue-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(next(q for q in self.queues if str(q.id) == event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)
