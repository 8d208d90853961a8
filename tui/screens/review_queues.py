"""Queue picker: which review queue to walk, when a database holds several."""

from __future__ import annotations

from reachscope.store.review import ReviewQueue
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


def queue_line(queue: ReviewQueue) -> str:
    runs = ", ".join(str(r).split("/")[-1] for r in queue.params.get("runs", []))
    return (f"{queue.name}  {queue.size} items  {'blind' if queue.blind else 'runs shown'}"
            + (f"  ({runs})" if runs else ""))


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

    def compose(self) -> ComposeResult:
        with Vertical(id="queue-picker"):
            yield Label(f"Review queue for {self.reviewer or 'you'} (enter: open)")
            yield OptionList(*(Option(queue_line(q), id=str(q.id)) for q in self.queues),
                             id="queue-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected, "#queue-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(next(q for q in self.queues if str(q.id) == event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)
