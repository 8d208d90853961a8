"""Help: every key of the screen it was opened from, footer or not, in one scrollable list."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

#: Bindings every Textual screen has that say nothing about reachscope.
_NOISE = {"app.focus_next", "app.focus_previous", "focus_next", "focus_previous",
          "app.simulate_key('escape')", "screen.maximize", "screen.minimize", "minimize",
          "app.command_palette", "command_palette"}


def screen_keys(screen: Screen) -> list[tuple[str, str]]:
    """(keys, what they do) for the bindings active on ``screen``: its own, the app's and the
    focused widget's, hidden ones included; keys of one action are joined (``n, right``)."""
    app = screen.app
    by_action: dict[tuple[str, str], list[str]] = {}
    # The screen's own keys first, then the app's, then the focused widget's.
    order = sorted(screen.active_bindings.values(),
                   key=lambda a: 0 if a.node is screen else 1 if a.node is app else 2)
    for active in order:
        binding: Binding = active.binding
        if binding.action in _NOISE and active.node is not screen:
            continue
        description = binding.tooltip or binding.description
        if not description:
            continue
        shown = app.get_key_display(binding)
        entry = by_action.setdefault((binding.action, description), [])
        if shown not in entry:
            entry.append(shown)
    keys = [(", ".join(k), d) for (_, d), k in by_action.items()]
    keys.append(("ctrl+p", "Command palette"))
    return keys


class HelpScreen(ModalScreen[None]):
    """The keys of the screen below; escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, title: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        text = Text()
        width = max((len(k) for k, _ in self.keys), default=4) + 2
        for key, description in self.keys:
            text.append(f"{key:>{width}}  ", style="bold")
            text.append(f"{description}\n")
        text.append("\nescape, q or ? closes this list", style="dim")
        with VerticalScroll(id="help") as box:
            box.border_title = f"keys: {self.title_text}"
            yield Static(text, markup=False, id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help", VerticalScroll).focus()
