"""A Footer that rebuilds its keys only when the bindings it shows have changed."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class AppFooter(Footer):
    """Textual's Footer, without the redundant rebuilds.

    The stock Footer recomposes (removes and mounts a widget per key, each styled from scratch)
    every time its screen publishes a bindings update: on focus changes, on the screen stack
    moving, after actions. Opening a screen publishes five or six of those, and the footer of
    the screen being covered rebuilds too. Here the rebuilds asked for before the next refresh
    become one, a covered screen's footer waits until its screen is shown again, and a rebuild
    that would show the same keys is skipped. The keys are composed with the footer itself,
    from the screen's bindings at that time, instead of in a second pass once the screen has
    published its first update (which usually shows the same keys).
    """

    def __init__(self, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(**kwargs)
        self._pending = False
        self._shown: tuple[Any, ...] | None = None
        self.set_reactive(Footer._bindings_ready, True)

    def compose(self) -> ComposeResult:
        self._shown = self._signature()
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or self._pending:
            return
        if self.is_attached and screen is self.screen:
            self._pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        if self.screen is not self.app.screen:
            # Covered: rebuild when the screen is resumed (which publishes a bindings update).
            return
        shown = self._signature()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()

    def _signature(self) -> tuple[Any, ...]:
        """What compose would show: every visible binding with its state, and the palette key."""
        bindings = self.screen.active_bindings
        keys = tuple((b.key, b.action, b.description, b.group, enabled, tooltip)
                     for _, b, enabled, tooltip in bindings.values() if b.show)
        palette = bindings.get(self.app.COMMAND_PALETTE_BINDING)
        palette_state = None if palette is None else (palette[1].key, palette[2])
        return (keys, palette_state, self.show_command_palette, self.compact)
