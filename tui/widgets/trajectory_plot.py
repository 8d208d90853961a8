"""pass@1 and pass@K against checkpoint, the runs in trajectory order on the x axis."""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual_plotext import PlotextPlot

from .passk_plot import COLORS, fitted_range


class TrajectoryPlot(PlotextPlot):
    """Two lines (pass@1, pass@K) over the checkpoints, each named on the x axis."""

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        #: What is drawn: the checkpoint names and each line's values.
        self.names: list[str] = []
        self.lines: dict[str, list[float]] = {}

    def show(self, names: Sequence[str], lines: dict[str, Sequence[float]]) -> None:
        self.names = list(names)
        self.lines = {k: [float(v) for v in vs] for k, vs in lines.items()}
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        xs = list(range(len(names)))
        plt.xticks(xs, [n[:10] for n in names])
        for i, (_label, ys) in enumerate(self.lines.items()):
            pts = [(x, y) for x, y in zip(xs, ys) if not math.isnan(y)]
            if pts:
                color = COLORS[i % len(COLORS)]
                plt.plot([p[0] for p in pts], [p[1] for p in pts], color=color,
                         marker="braille")
                plt.scatter([p[0] for p in pts], [p[1] for p in pts], color=color, marker="●")
        lo, hi = fitted_range(list(self.lines.values()))
        plt.ylim(lo, hi)
        plt.title("   ".join(f"━ {label} ({COLORS[i % len(COLORS)]})"
                             for i, label in enumerate(self.lines)))
        plt.xlabel("checkpoint (trajectory order)")
        self.refresh()
