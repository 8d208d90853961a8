"""Histograms of log perplexity, one line per scorer x generator (Yue et al., Fig. 6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from textual_plotext import PlotextPlot

from .passk_plot import COLORS, legend

#: Bins of the histogram over the pooled range of the cells shown.
BINS = 40
#: The range ends at this quantile of the pooled values; the last bin holds everything above
#: (a long tail of unlikely samples would otherwise squeeze the bulk into a few bins).
TOP = 0.99


@dataclass(frozen=True)
class Histograms:
    """Counts of log PPL per bin for each cell, on shared bin ``edges``; the last bin also
    counts the values above ``edges[-1]`` (``above`` of them per cell)."""

    edges: np.ndarray
    counts: dict[str, np.ndarray]
    above: dict[str, int]


def histograms(values: Mapping[str, np.ndarray], bins: int = BINS) -> Histograms:
    """Bin each cell's finite log PPL values on one set of edges (the pooled minimum to the
    pooled ``TOP`` quantile; values above it count in the last bin)."""
    finite = {name: v[np.isfinite(v)] for name, v in values.items()}
    pooled = np.concatenate([v for v in finite.values() if v.size] or [np.zeros(0)])
    if pooled.size == 0:
        return Histograms(np.zeros(0), {name: np.zeros(0, dtype=np.int64) for name in values},
                          {name: 0 for name in values})
    lo, hi = float(pooled.min()), float(np.quantile(pooled, TOP))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    return Histograms(
        edges, {name: np.histogram(np.minimum(v, hi), bins=edges)[0]
                for name, v in finite.items()},
        {name: int(np.sum(v > hi)) for name, v in finite.items()})


def count_ticks(top: int, most: int = 5) -> list[int]:
    """Whole-number y ticks from 0 to at least ``top``: at most ``most`` of them, with the
    least step of 1, 2, 5, 10, 20, 50, ... that reaches ``top``."""
    step, i = 1, 0
    while step * (most - 1) < top:
        step = (1, 2, 5)[(i + 1) % 3] * 10 ** ((i + 1) // 3)
        i += 1
    return list(range(0, step * (top // step + (top % step > 0)) + 1, step)) if top else [0, 1]


class PPLPlot(PlotextPlot):
    """Sample counts per log PPL bin, a line per cell; the legend is set by the screen."""

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.shown: Histograms | None = None

    def show(self, hist: Histograms, title: str) -> None:
        """Draw ``hist`` (each cell a line through its bins' centres)."""
        self.shown = hist
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if hist.edges.size:
            centres = ((hist.edges[:-1] + hist.edges[1:]) / 2).tolist()
            for i, counts in enumerate(hist.counts.values()):
                plt.plot(centres, counts.tolist(), color=COLORS[i % len(COLORS)],
                         marker="braille")
            # Counts: whole-number ticks from 0 (plotext's own would read 12.5 samples).
            ticks = count_ticks(max((int(c.max()) for c in hist.counts.values() if c.size),
                                    default=0))
            plt.ylim(0, ticks[-1])
            plt.yticks(ticks)
        plt.title(title)
        top = f"; last bin: ≥ {hist.edges[-1]:.3g}" if sum(hist.above.values()) else ""
        plt.xlabel(f"log PPL (lower: more likely under the scorer){top}")
        self.refresh()

    def show_message(self, text: str) -> None:
        self.shown = None
        self.plt.clear_data()
        self.plt.clear_figure()
        self.plt.title(text)
        self.refresh()


def legend_of(names: Sequence[str]) -> str:
    """The lines' legend, to show beside the plot (it wraps there)."""
    return legend(list(names))
