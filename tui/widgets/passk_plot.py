"""pass@k curves on a log2 k axis, or the paired-bootstrap band of their difference."""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual_plotext import PlotextPlot

#: 16-colour names, so the plot reads the same without true colour.
COLORS = ["cyan", "magenta", "green", "yellow", "blue", "red"]


def _points(ks: Sequence[int], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    xs, vs = [], []
    for k, y in zip(ks, ys):
        if y is not None and not math.isnan(float(y)):
            xs.append(math.log2(k))
            vs.append(float(y))
    return xs, vs


def fitted_range(curves: Sequence[Sequence[float]], pad: float = 0.05) -> tuple[float, float]:
    """A y range that holds every finite value with a margin, within [0, 1] (0-1 if none)."""
    values = [float(y) for ys in curves for y in ys
              if y is not None and not math.isnan(float(y))]
    if not values:
        return 0.0, 1.0
    lo, hi = min(values), max(values)
    span = max(hi - lo, 0.02)
    return max(0.0, lo - span * pad * 2), min(1.0, hi + span * pad * 2)


def legend(labels: Sequence[str]) -> str:
    """The legend as a line of text (set above the plot, where it covers no point)."""
    return "   ".join(f"━ {label} ({COLORS[i % len(COLORS)]})" for i, label in enumerate(labels))


class PassKPlot(PlotextPlot):
    """A plot of mean pass@k against k (log2 scale); the legend is in the title line, outside
    the plot area, the y range fits the data unless ``full_range`` is set, and each k is marked.
    """

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        #: Plot y from 0 to 1 instead of fitting it to the data.
        self.full_range = False
        self._last: tuple[Sequence[int], dict[str, Sequence[float]], str] | None = None

    def on_mount(self) -> None:
        self.plt.title("pass@k")
        self.plt.xlabel("k (log2)")

    def _axes(self, ks: Sequence[int]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if ks:
            step = max(1, math.ceil(len(ks) / 8))
            shown = list(ks[::step])
            if ks[-1] not in shown:
                shown.append(ks[-1])
            plt.xticks([math.log2(k) for k in shown], [str(k) for k in shown])

    def show_curves(self, ks: Sequence[int], curves: dict[str, Sequence[float]],
                    title: str = "mean pass@k") -> None:
        """One line per run, each k marked with a dot."""
        self._last = (ks, curves, title)
        self._axes(ks)
        plt = self.plt
        for i, (_label, ys) in enumerate(curves.items()):
            xs, vs = _points(ks, ys)
            if xs:
                color = COLORS[i % len(COLORS)]
                plt.plot(xs, vs, color=color, marker="braille")
                plt.scatter(xs, vs, color=color, marker="●")
        lo, hi = (0.0, 1.0) if self.full_range else fitted_range(list(curves.values()))
        plt.ylim(lo, hi)
        plt.title(f"{title}   {legend(list(curves))}")
        plt.xlabel("k (log2 scale)" + ("" if self.full_range else "  ·  y fitted (0-1: key y)"))
        self.refresh()

    def toggle_range(self) -> None:
        """Switch between a y range fitted to the curves and the full 0-1 range."""
        self.full_range = not self.full_range
        if self._last is not None:
            self.show_curves(*self._last)

    def show_difference(self, ks: Sequence[int], diff: Sequence[float], low: Sequence[float],
                        high: Sequence[float], label: str, level: float) -> None:
        """The difference of two curves with its bootstrap confidence band."""
        self._axes(ks)
        plt = self.plt
        xs, lo = _points(ks, low)
        _, hi = _points(ks, high)
        _, d = _points(ks, diff)
        if xs:
            plt.plot(xs, hi, color="white", marker="dot")
            plt.plot(xs, lo, color="white", marker="dot")
            plt.plot(xs, d, color="yellow", marker="braille")
            plt.scatter(xs, d, color="yellow", marker="●")
            plt.hline(0.0, "red")
        self._last = None
        plt.title(f"{label} (yellow), {level:.0%} CI (white), paired bootstrap over problems")
        plt.xlabel("k (log2 scale)")
        self.refresh()

    def show_message(self, text: str) -> None:
        self._axes([])
        self.plt.title(text)
        self.refresh()
