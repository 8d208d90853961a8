"""Two traces side by side with the words that differ highlighted."""

from __future__ import annotations

from reachscope.core.browse import DiffChunk
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

#: Standard ANSI colours, legible without true colour.
LEFT_STYLE = "bold white on red"
RIGHT_STYLE = "bold black on green"


def side_text(chunks: list[DiffChunk], left: bool) -> Text:
    """One side of a word diff as Rich text; only the differing words are styled."""
    out = Text()
    for chunk in chunks:
        tokens = chunk.left if left else chunk.right
        style = "" if chunk.op == "equal" else LEFT_STYLE if left else RIGHT_STYLE
        for token in tokens:
            word = token.lstrip()
            out.append(token[: len(token) - len(word)])
            out.append(word, style=style)
    return out


class TraceDiff(Horizontal):
    """Left and right panes; each scrolls on its own."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="diff-left", classes="diff-pane"):
            yield Static("", markup=False, id="diff-left-text")
        with VerticalScroll(id="diff-right", classes="diff-pane"):
            yield Static("", markup=False, id="diff-right-text")

    def show(self, chunks: list[DiffChunk], left_title: Text, right_title: Text) -> None:
        for side, title in (("left", left_title), ("right", right_title)):
            pane = self.query_one(f"#diff-{side}", VerticalScroll)
            pane.border_title = title
            self.query_one(f"#diff-{side}-text", Static).update(side_text(chunks, side == "left"))
            pane.scroll_home(animate=False)
