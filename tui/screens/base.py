"""What every reachscope screen shares: worker failures become notifications."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState


class AppScreen(Screen):
    """A screen whose failed workers are reported (StateChanged does not bubble to the app),
    with ``?`` listing its keys."""

    BINDINGS = [Binding("question_mark", "help", "Help", key_display="?")]

    def action_help(self) -> None:
        from .help import HelpScreen, screen_keys

        self.app.push_screen(HelpScreen(type(self).__name__.removesuffix("Screen"),
                                        screen_keys(self)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.report_error(event.worker.error)
