"""A completion, wrapped to the terminal's width, with its maths legible and a text search."""

from __future__ import annotations

from reachscope.core import browse, latex
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

#: 16-colour styles, legible without true colour.
MATH_STYLE = "cyan"
ANSWER_STYLE = "bold reverse green"
MATCH_STYLE = "black on yellow"
CURRENT_STYLE = "bold black on magenta"


def trace_text(text: str, answer: str | None = None, raw: bool = False) -> Text:
    r"""A trace as Rich text: display maths on lines of its own (wrapped like prose), LaTeX
    turned into Unicode, and the final ``\boxed{}`` set off. With ``raw`` the text is exactly
    the trace, still wrapped at the width, never cut."""
    span = browse.final_boxed_span(text)
    if span is None and answer:
        pos = text.rfind(answer)
        span = (pos, pos + len(answer)) if pos >= 0 else None
    if raw:
        out = Text(text)
        if span is not None:
            out.stylize(ANSWER_STYLE, *span)
        return out
    out = Text()
    for piece in latex.pieces(text, unicode=True, answer_span=span):
        style = ANSWER_STYLE if piece.answer and piece.kind != "text" else ""
        if piece.kind == "display":
            if out.plain and not out.plain.endswith("\n"):
                out.append("\n")
            out.append("    ")
            out.append(piece.text, style=style or MATH_STYLE)
            if piece.answer:
                out.append("  ◀ final answer", style="bold")
            out.append("\n")
        elif piece.kind == "inline":
            out.append(piece.text, style=style or MATH_STYLE)
            if piece.answer:
                out.append(" ◀ final answer", style="bold")
        else:
            body = piece.text
            if out.plain.endswith("\n") and body.startswith("\n"):
                body = body[1:]  # the display line above already ended the line
            out.append(body)
    out.rstrip()
    return out


class TraceView(VerticalScroll, can_focus=True):
    """Scrolls a trace; ``show`` sets it, ``search`` and ``next_match`` find text in it."""

    DEFAULT_CSS = """
    TraceView > Static { margin: 0 1; }
    """

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.source = ""
        self.answer: str | None = None
        self.raw = False
        self.query_text = ""
        self.matches: list[int] = []
        self.current = -1
        self._text = Text()

    def compose(self):  # noqa: ANN201
        yield Static("", markup=False, id="trace-text")

    @property
    def plain(self) -> str:
        """The text as shown (after the LaTeX pass unless raw)."""
        return self._text.plain

    def show(self, text: str, answer: str | None = None, raw: bool | None = None) -> None:
        """Show a completion from its top; a search in progress is run again on it."""
        self.source, self.answer = text, answer
        if raw is not None:
            self.raw = raw
        self._render_text()
        self.scroll_home(animate=False)
        if self.query_text:
            self.search(self.query_text)

    def toggle_raw(self) -> None:
        """Switch between the Unicode rendering and the raw text."""
        self.raw = not self.raw
        self._render_text()
        if self.query_text:
            self.search(self.query_text)

    def _render_text(self, ) -> None:
        self._text = trace_text(self.source, self.answer, self.raw)
        self._update()

    def _update(self) -> None:
        text = self._text.copy()
        size = len(self.query_text)
        for i, start in enumerate(self.matches):
            text.stylize(CURRENT_STYLE if i == self.current else MATCH_STYLE, start, start + size)
        self.query_one("#trace-text", Static).update(text)

    def search(self, query: str) -> int:
        """Highlight every occurrence of ``query`` and scroll to the first; their count."""
        self.query_text = query
        self.matches = latex.find_all(self.plain, query)
        self.current = 0 if self.matches else -1
        self._update()
        self._scroll_to_current()
        return len(self.matches)

    def next_match(self, step: int = 1) -> int:
        """Move to the next (or previous) match; its 1-based number, 0 when there is none."""
        if not self.matches:
            return 0
        self.current = (self.current + step) % len(self.matches)
        self._update()
        self._scroll_to_current()
        return self.current + 1

    def line_of(self, offset: int, width: int) -> int:
        """The wrapped line (0-based) that shows character ``offset`` at ``width`` columns."""
        lines = self._text.wrap(self.app.console, max(width, 1), overflow="fold")
        pos = 0
        for i, line in enumerate(lines):
            pos += len(line.plain)
            if offset < pos:
                return i
            if pos < len(self.plain) and self.plain[pos] == "\n":
                pos += 1
        return max(len(lines) - 1, 0)

    def _scroll_to_current(self) -> None:
        if self.current < 0:
            return
        offset = self.matches[self.current]

        def scroll() -> None:
            width = self.query_one("#trace-text", Static).content_region.width
            line = self.line_of(offset, width)
            self.scroll_to(y=max(line - 2, 0), animate=False)

        self.call_after_refresh(scroll)
