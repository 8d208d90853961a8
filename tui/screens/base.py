"""What every reachscope screen shares: worker failures become notifications."""

from __future__ import annotations

from textual.screen import Screen
from textual.worker import Worker, WorkerState


class AppScreen(Screen):
    """A screen whose failed workers are reported (StateChanged does not bubble to the app)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.report_error(event.worker.error)
