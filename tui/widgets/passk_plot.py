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


class PassKPlot(PlotextPlot):
    """A plot of mean pass@k against k (log2 scale)."""

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
        """One line per run."""
        self._axes(ks)
        plt = self.plt
        for i, (label, ys) in enumerate(curves.items()):
            xs, vs = _points(ks, ys)
            if xs:
                plt.plot(xs, vs, label=label, color=COLORS[i % len(COLORS)], marker="hd")
        plt.ylim(0, 1)
        plt.title(title)
        plt.xlabel("k (log2 scale)")
        self.refresh()

    def show_difference(self, ks: Sequence[int], diff: Sequence[float], low: Sequence[float],
                        high: Sequence[float], label: str, level: float) -> None:
        """The difference of two curves with its bootstrap confidence band."""
        self._axes(ks)
        plt = self.plt
        xs, lo = _points(ks, low)
        _, hi = _points(ks, high)
        _, d = _points(ks, diff)
        if xs:
            plt.plot(xs, hi, color="white", marker="dot", label=f"{level:.0%} CI")
            plt.plot(xs, lo, color="white", marker="dot")
            plt.plot(xs, d, color="yellow", marker="hd", label=label)
            plt.hline(0.0, "red")
        plt.title(f"{label}, paired bootstrap over problems")
        plt.xlabel("k (log2 scale)")
        self.refresh()

    def show_message(self, text: str) -> None:
        self._axes([])
        self.plt.title(text)
        self.refresh()
