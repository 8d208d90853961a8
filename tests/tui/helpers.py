"""Waiting for the app without sleeping: run until no worker is left and the queue is empty."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from rich.cells import cell_len
from rich.color import Color, ColorSystem
from rich.console import Console
from rich.style import Style
from textual.app import App
from textual.geometry import Region
from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed


def screen_text(app: App) -> str:
    """What the terminal shows, as plain text (the compositor's frame, as a screenshot is)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True,
                      force_terminal=True, color_system="truecolor", legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


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


def pending_work(app: App) -> list[str]:
    """What the app still has to do before its frame is final (empty: nothing).

    Textual exposes none of this publicly, so the private flags are read here, in the tests
    only: a DataTable measures new rows and recomputes its column widths on its next Idle, and
    the screen lays out and paints what was refreshed on its next update, and runs
    ``call_after_refresh`` callbacks after that.
    """
    from textual.widgets import DataTable

    screen = app.screen
    pending = [f"worker {w.name}" for w in app.workers if w.is_running]
    if (screen._layout_required or screen._scroll_required or screen._repaint_required
            or screen._recompose_required or screen._dirty_widgets or screen._callbacks):
        pending.append("screen update")
    pending += [f"column widths of {table!r}" for table in screen.query(DataTable)
                if table._require_update_dimensions or table._new_rows or table._updated_cells]
    return pending


async def settle_screen(pilot: Pilot, rounds: int = 100) -> None:
    """Settle, then wait until nothing is pending (:func:`pending_work`) and two frames in a
    row are the same.

    Workers can finish before the layout pass their results trigger: a DataTable sizes its
    columns on its next Idle, which a busy machine can put off past two identical frames (a
    snapshot then caught labels cut to ``bas``). Waiting for the pending work itself, not only
    for a frame that stopped changing, is what makes the frame final (a condition, not a sleep).
    """
    await settle(pilot)
    app = pilot.app
    previous = None
    for _ in range(rounds):
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        if pending_work(app):
            previous = None
            continue
        frame = app.export_screenshot()
        if frame == previous and not pending_work(app):
            return
        previous = frame
    raise AssertionError(f"the screen did not settle: {pending_work(app)}")


async def press_keys(pilot: Pilot, *presses: str) -> None:
    """Settle, then press each key and settle after it; at the end the frame is final."""
    await settle(pilot)
    for key in presses:
        await pilot.press(key)
        await settle(pilot)
    await settle_screen(pilot)


def demo_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped demo database (tests never write the committed one)."""
    from reachscope.core.demo import demo_db_path

    path = tmp_path / "demo.db"
    shutil.copyfile(demo_db_path(), path)
    return path


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


def styled_cells(app: App, region: Region, system: ColorSystem) -> list[tuple[object, ...]]:
    """Each cell of ``region`` on screen as (character, colours, attributes), the colours as a
    terminal with ``system`` shows them (EIGHT_BIT: 256 colours; STANDARD: TERM=screen)."""

    def colour(c: Color | None) -> tuple[str, ...]:
        return () if c is None else c.downgrade(system).get_ansi_codes()

    strips = app.screen._compositor.render_strips()
    cells: list[tuple[object, ...]] = []
    for y in range(region.y, region.bottom):
        x = 0
        for segment in strips[y]:
            style = segment.style or Style()
            look = (colour(style.color), colour(style.bgcolor), style.bold, style.dim,
                    style.italic, style.underline, style.reverse)
            for ch in segment.text:
                if region.x <= x < region.right:
                    cells.append((ch, *look))
                x += cell_len(ch)
    return cells
