"""Annotate: a small dialog to label a trace and leave a note."""

from __future__ import annotations

from reachscope.core.browse import ANNOTATION_LABELS
from reachscope.store.reads import SampleRow
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet


class AnnotateScreen(ModalScreen[tuple[str, str] | None]):
    """Returns ``(label, note)``, or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, sample: SampleRow) -> None:
        super().__init__()
        self.sample = sample

    def compose(self) -> ComposeResult:
        with Vertical(id="annotate"):
            yield Label(f"Label sample {self.sample.sample_idx} "
                        f"({self.sample.verdict or 'ungraded'})", id="annotate-title")
            with RadioSet(id="labels"):
                for i, label in enumerate(ANNOTATION_LABELS):
                    yield RadioButton(label, value=i == 0)
            yield Input(placeholder="note (optional); enter saves", id="note")
            with Horizontal(id="annotate-buttons"):
                yield Button("Save", variant="primary", id="save")
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

    @on(Input.Submitted, "#note")
    def _submitted(self) -> None:
        self.action_save()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()
