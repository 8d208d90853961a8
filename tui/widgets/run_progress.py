"""Per-run progress: samples stored and graded against the target, rate and ETA."""

from __future__ import annotations

from reachscope.core.browse import RateMeter, format_duration
from reachscope.store.runs import RunProgress
from rich.text import Text
from textual.widgets import DataTable


class RunProgressTable(DataTable):
    """One row per run; rates come from successive observations of the stored sample count."""

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(cursor_type="row", **kwargs)
        self.meters: dict[int, RateMeter] = {}
        self.progress: dict[int, RunProgress] = {}

    def on_mount(self) -> None:
        self.add_column("run", key="run")
        self.add_column("status", key="status")
        self.add_column("samples / target", key="samples")
        self.add_column("graded", key="graded")
        self.add_column("acc", key="acc")
        self.add_column("samples/s", key="rate")
        self.add_column("ETA", key="eta")

    def observe(self, progress: list[RunProgress], at: float) -> None:
        """Record new counts (only the runs that changed need be given)."""
        for p in progress:
            self.progress[p.run_id] = p
            self.meters.setdefault(p.run_id, RateMeter()).observe(at, p.samples)
        self.redraw()

    def tick(self, at: float) -> None:
        """Re-observe unchanged runs so that a stalled run's rate falls to zero (and a run whose
        writer has gone shows ``stale`` without waiting for a write)."""
        for run_id, p in self.progress.items():
            if p.status == "running":
                self.meters[run_id].observe(at, p.samples)
        self.redraw()

    def redraw(self) -> None:
        for run_id, p in self.progress.items():
            meter = self.meters[run_id]
            target = p.target
            done = f"{p.samples:,} / {target:,}" if target else f"{p.samples:,}"
            if target:
                done += f" ({p.samples / target:.0%})"
            rate = meter.rate
            state = p.state
            running = state == "running"
            cells = {
                "run": Text(p.label, style="bold"),
                "status": Text(state, style="green" if running else
                               "yellow" if state == "stale" else "dim"),
                "samples": done,
                "graded": f"{p.graded:,}",
                "acc": f"{p.correct / p.graded:.3f}" if p.graded else "—",
                "rate": f"{rate:,.1f}" if running and rate is not None else "—",
                "eta": format_duration(meter.eta_s(target)) if running else "—",
            }
            key = str(run_id)
            if key in self.rows:
                for col, value in cells.items():
                    self.update_cell(key, col, value, update_width=True)
            else:
                self.add_row(*cells.values(), key=key)
