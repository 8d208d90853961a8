"""Annotate: a small dialog to label a trace and leave a note."""

from __future__ import annotations

from typing import Any

from reachscope.core.browse import ANNOTATION_LABELS
from reachscope.store.samples import SampleRow
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet


class AnnotateScreen(ModalScreen[tuple[str, str] | None]):
    """Returns ``(label, note)``, ``("", "")`` to delete the current label, or None when
    cancelled. Opens on the reviewer's current label, if any."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+d", "delete", "Delete label"),
    ]

    def __init__(self, sample: SampleRow, current: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.sample = sample
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="annotate"):
            yield Label(f"Label sample {self.sample.sample_idx} "
                        f"({self.sample.verdict or 'ungraded'})", markup=False, id="annotate-title")
            labels = list(ANNOTATION_LABELS)
            chosen = self.current["label"] if self.current else labels[0]
            if chosen not in labels:
                labels.append(chosen)  # a free-text label stored earlier stays selectable
            with RadioSet(id="labels"):
                for label in labels:
                    yield RadioButton(Content(label), value=label == chosen)  # not markup
            yield Input(self.current["note"] if self.current else "",
                        placeholder="note (optional); enter saves", id="note")
            with Horizontal(id="annotate-buttons"):
                yield Button("Save", variant="primary", id="save")
                if self.current is not None:
                    yield Button("Delete", variant="error", id="delete")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    def _label(self) -> str:
        pressed = self.query_one(RadioSet).pressed_button
        return str(pressed.label) if pressed is not None else ANNOTATION_LABELS[0]

    def action_save(self) -> None:
        self.dismiss((self._label(), self.query_one("#note", Input).value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_delete(self) -> None:
        if self.current is not None:
            self.dismiss(("", ""))

    @on(Input.Submitted, "#note")
    def _submitted(self) -> None:
        self.action_save()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        elif event.button.id == "delete":
            self.action_delete()
        else:
            self.action_cancel()
