"""Waiting for the app without sleeping: run until no worker is left and the queue is empty."""

from __future__ import annotations

from textual.app import App
from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed


async def settle(pilot: Pilot, rounds: int = 50) -> None:
    """Wait for workers, the messages they post, and workers those messages start."""
    app: App = pilot.app
    for _ in range(rounds):
        for worker in list(app.workers):
            try:
                await worker.wait()
            except (WorkerCancelled, WorkerFailed):
                pass  # superseded by a newer exclusive worker, or reported as an error
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            await pilot.pause()
            if not any(w.is_running for w in app.workers):
                return
    raise AssertionError(f"the app did not settle: {[(w, w.state) for w in app.workers]}")


async def settle_screen(pilot: Pilot, rounds: int = 40) -> None:
    """Settle, then wait until two consecutive frames are identical.

    Workers can finish before the layout pass that their results trigger (a table's column
    widths, a plot's redraw): a snapshot taken then catches a half-laid-out frame. This polls the
    rendered screen until it stops changing (a condition, not a fixed sleep).
    """
    await settle(pilot)
    previous = None
    for _ in range(rounds):
        await pilot.pause(0.05)
        frame = pilot.app.export_screenshot()
        if frame == previous:
            return
        previous = frame
    raise AssertionError("the screen kept changing; no stable frame to snapshot")


def screen_name(app: App) -> str:
    return type(app.screen).__name__


async def open_first_trace(pilot: Pilot):  # noqa: ANN201  (a TraceScreen; imported lazily)
    """From Compare: Problems (p), the first problem, its first sample; returns the trace screen."""
    from reachscope.tui.screens.trace import TraceScreen

    await settle(pilot)
    for key in ("p", "enter", "enter"):
        await pilot.press(key)
        await settle(pilot)
    assert isinstance(pilot.app.screen, TraceScreen)
    return pilot.app.screen
