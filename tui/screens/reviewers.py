"""Reviewers: how the reviewers of a queue agree (Cohen's kappa per pair) and where they differ.

Enter on a pair lists the samples its two reviewers labelled differently; Enter on one of those
goes back to the Review screen at that item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import sqlite_utils
from reachscope.core.review import REVIEW_LABELS, Agreement, cohen_kappa
from reachscope.store.review import ReviewItem, ReviewQueue, queue_items, queue_labels
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Header, Static

from ..widgets.cells import literal
from ..widgets.footer import AppFooter
from .base import AppScreen


@dataclass
class AgreementLoaded(Message):
    counts: dict[str, int]  # reviewer -> items labelled (skips included)
    pairs: list[tuple[str, str, Agreement]]
    items: dict[int, ReviewItem] = field(default_factory=dict)  # sample id -> queue item


def read_agreement(db: sqlite_utils.Database, queue: ReviewQueue) -> AgreementLoaded:
    """Every reviewer pair's agreement on the queue, and the queue's items by sample id."""
    labels = {r: {sid: lab for sid, (lab, _) in per.items()}
              for r, per in queue_labels(db, queue.id, REVIEW_LABELS).items()}
    pairs = [(a, b, cohen_kappa(labels[a], labels[b])) for a, b in combinations(sorted(labels), 2)]
    items: dict[int, ReviewItem] = {}
    wanted = {s for _, _, agr in pairs for s in agr.disagreements}
    after = -1
    while wanted - items.keys():
        page = queue_items(db, queue.id, after=after, limit=500)
        if not page:
            break
        items.update({i.sample_id: i for i in page if i.sample_id in wanted})
        after = page[-1].position
    return AgreementLoaded({r: len(v) for r, v in labels.items()}, pairs, items)


def kappa_text(kappa: float | None) -> str:
    """Kappa as `reachscope review --status` prints it (``n/a`` where it is undefined)."""
    return "n/a" if kappa is None else f"{kappa:.3f}"


class ReviewersScreen(AppScreen):
    """Agreement per reviewer pair; returns the queue position to review, or None."""

    DEFAULT_CSS = """
    #agreement-head, #disagree-head { height: auto; padding: 0 1; }
    #pairs { height: auto; max-height: 8; }
    #disagreements { height: 1fr; }
    """

    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, queue: ReviewQueue) -> None:
        super().__init__()
        self.queue = queue
        self.loaded: AgreementLoaded | None = None
        self.pair = 0
        self.rows: list[int] = []  # sample ids of the disagreements table, in order

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", markup=False, id="agreement-head")
        yield DataTable(id="pairs", cursor_type="row", zebra_stripes=True)
        yield Static("", markup=False, id="disagree-head")
        yield DataTable(id="disagreements", cursor_type="row", zebra_stripes=True)
        yield AppFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = f"reviewers of queue {self.queue.name}"
        self.query_one("#pairs", DataTable).focus()
        self.load()

    @work(thread=True, exclusive=True, group="agreement", exit_on_error=False)
    def load(self) -> None:
        queue = self.queue
        self.post_message(self.app.source.query(lambda db: read_agreement(db, queue)))

    @on(AgreementLoaded)
    def _loaded(self, message: AgreementLoaded) -> None:
        self.loaded = message
        counts = ", ".join(f"{r or 'anonymous'} {n}" for r, n in message.counts.items())
        head = f"queue {self.queue.name}, {self.queue.size} items; labelled: {counts or 'none'}"
        if not message.pairs:
            head += ("\nAgreement needs two reviewers on the same samples (reachscope tui "
                     "--reviewer NAME)")
        self.query_one("#agreement-head", Static).update(head)
        table = self.query_one("#pairs", DataTable)
        table.clear(columns=True)
        table.add_columns("reviewers", "both judged", "agreed", "kappa")
        for a, b, agr in message.pairs:
            table.add_row(literal(f"{a or 'anonymous'} / {b or 'anonymous'}"), str(agr.n),
                          str(agr.agreed), kappa_text(agr.kappa))
        self.show_pair(min(self.pair, max(len(message.pairs) - 1, 0)))

    def show_pair(self, index: int) -> None:
        loaded = self.loaded
        table = self.query_one("#disagreements", DataTable)
        table.clear(columns=True)
        self.rows = []
        if loaded is None or not loaded.pairs:
            self.query_one("#disagree-head", Static).update("")
            return
        self.pair = index
        a, b, agr = loaded.pairs[index]
        self.query_one("#disagree-head", Static).update(
            f"{len(agr.disagreements)} disagreeing samples of {a or 'anonymous'} and "
            f"{b or 'anonymous'} (enter: review it)")
        columns = ["item", "problem", a or "anonymous", b or "anonymous"]
        table.add_columns(*map(literal, columns), *([] if self.queue.blind else ["run"]))
        self.rows = [sid for _, sid in sorted((loaded.items[s].position, s)
                                              for s in agr.disagreements if s in loaded.items)]
        for sid in self.rows:
            item, (la, lb) = loaded.items[sid], agr.disagreements[sid]
            table.add_row(str(item.position + 1), str(item.problem_idx), literal(la), literal(lb),
                          *([] if self.queue.blind else [literal(item.run_label)]))

    @on(DataTable.RowHighlighted, "#pairs")
    def _pair_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.loaded is not None and event.cursor_row != self.pair:
            self.show_pair(event.cursor_row)

    @on(DataTable.RowSelected, "#pairs")
    def _pair_selected(self, event: DataTable.RowSelected) -> None:
        self.show_pair(event.cursor_row)
        if self.rows:
            self.query_one("#disagreements", DataTable).focus()

    @on(DataTable.RowSelected, "#disagreements")
    def _open(self, event: DataTable.RowSelected) -> None:
        if self.loaded is not None and 0 <= event.cursor_row < len(self.rows):
            self.dismiss(self.loaded.items[self.rows[event.cursor_row]].position)

    def action_close(self) -> None:
        self.dismiss(None)
