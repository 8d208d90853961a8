"""Publication figures: pure functions from reachscope's numbers to matplotlib Figures.

Each function takes data the report already computes (an `analysis.Comparison`, a
`trajectory.Trajectory`, the `likelihood.ScoredRun` arrays) and returns a Figure sized for one
column of a two-column paper, in colour-blind-safe colours (Okabe and Ito) with distinct line
styles, so a grey-scale print still tells the runs apart. Nothing here reads a database or writes
a file except `save`.

matplotlib is an optional dependency (``pip install 'reachscope[plot]'``) and is imported inside
the functions, never at import time; figures are built on `matplotlib.figure.Figure` with an Agg
canvas, never through pyplot, so no global figure state or GUI backend is involved.

Every artist that carries data has a gid (``passk-curve-0``, ``coverage-bars-0``, ...): tests read
the drawn data back from the artists, and the ids survive into SVG output. Bars have one id
each: ``coverage-bars-0-3`` is the fourth bar of the first group.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .analysis import Comparison
    from .likelihood import ScoredRun
    from .trajectory import Trajectory

#: Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies.
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442"]
LINESTYLES = ["-", "--", "-.", ":"]
#: One column of a two-column paper (ACL, NeurIPS, ICML: 3.25-3.4 in).
COLUMN_WIDTH = 3.4
FORMATS = (".pdf", ".png", ".svg")
KINDS = ("passk", "coverage", "histogram", "trajectory", "ppl")

#: Defaults under any ``--style`` file (which overrides them).
RC: dict[Any, Any] = {  # Any keys: matplotlib types them as a Literal of every rc name
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.5,
    "lines.linewidth": 1.4,
    "savefig.dpi": 300,
    "pdf.fonttype": 42,  # TrueType in the PDF: editable text, accepted by paper checkers
    "svg.fonttype": "none",  # text stays text in SVG: searchable, small, selectable
    "svg.hashsalt": "reachscope",  # the same figure gives the same SVG bytes
}


class FigureError(Exception):
    """A figure that cannot be made (matplotlib missing, no data, unknown format)."""


def require_matplotlib() -> None:
    """Raise FigureError with the install hint when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise FigureError("figures need matplotlib: pip install 'reachscope[plot]' "
                          "(or pip install matplotlib)") from None


@contextmanager
def style(path: str | Path | None = None) -> Iterator[None]:
    """The house defaults, then a matplotlib style file on top; build and save inside it."""
    require_matplotlib()
    import matplotlib

    with matplotlib.rc_context(RC):
        if path is None:
            yield
        else:
            if not Path(path).is_file():
                raise FigureError(f"{path}: no such style file")
            with matplotlib.rc_context(fname=str(path)):
                yield


def _figure(height: float, **subplots: Any) -> tuple[Figure, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(COLUMN_WIDTH, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(**subplots)


def text(label: str) -> str:
    """A user's label as literal text: '$' would start mathtext in matplotlib."""
    return label.replace("$", r"\$")


def _legend(ax: Axes, handles: list[Any], labels: list[str], **kw: Any) -> None:
    # Explicit handles and labels: matplotlib drops labels starting with '_' otherwise.
    ax.legend(handles, [text(lab) for lab in labels], **kw)


def _bar_ids(bars: Any, gid: str) -> None:
    # One id per bar (``gid-0``, ``gid-1``, ...): ids must be unique in an SVG.
    for j, rect in enumerate(bars):
        rect.set_gid(f"{gid}-{j}")


def _log2_axis(ax: Axes, ks: list[int]) -> None:
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log", base=2)
    ticks = [k for k in ks if k & (k - 1) == 0]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(k) for k in ticks])
    ax.set_xlim(ks[0], ks[-1])


def passk_figure(cmp: Comparison) -> Figure:
    """pass@k per run on a log2 k axis; below, pass@k(B) - pass@k(A) with its bootstrap band.

    The crossover k (where the sign of the difference flips) is a dotted line in both panels.
    """
    ks = cmp.ks
    bs = cmp.bootstrap
    if bs is None:
        fig, ax = _figure(2.4)
        axes = [ax]
    else:
        fig, axes = _figure(3.4, nrows=2, sharex=True, height_ratios=[2.2, 1])
        ax = axes[0]
    handles = []
    for i, key in enumerate(cmp.keys):
        (line,) = ax.plot(ks, cmp.curves[key], color=COLOURS[i % len(COLOURS)],
                          linestyle=LINESTYLES[i % len(LINESTYLES)], gid=f"passk-curve-{i}")
        handles.append(line)
    _legend(ax, handles, cmp.keys, loc="lower right")
    ax.set_ylabel("pass@k")
    if bs is not None:
        a, b = cmp.keys[0], cmp.keys[1]
        d = axes[1]
        d.axhline(0, color="0.3", linewidth=0.6)
        d.fill_between(bs.ks, bs.low, bs.high, color=COLOURS[1], alpha=0.25, linewidth=0,
                       gid="passk-band")
        d.plot(bs.ks, bs.diff, color=COLOURS[1], gid="passk-diff")
        d.set_ylabel("Δ pass@k")
        d.set_title(text(f"{b} − {a}") + f", {bs.level:.0%} paired bootstrap band", loc="left",
                    fontsize=7)
    if cmp.crossover_k is not None:
        for j, axis in enumerate(axes):
            axis.axvline(cmp.crossover_k, color="0.35", linestyle=":", linewidth=1,
                         gid=f"passk-crossover-{j}")
        ax.annotate(f"crossover k = {cmp.crossover_k}", (cmp.crossover_k, 0.5),
                    xycoords=("data", "axes fraction"), xytext=(3, 0),
                    textcoords="offset points", fontsize=6, color="0.3", rotation=90,
                    va="center")
    _log2_axis(axes[-1], ks)
    axes[-1].set_xlabel("k (samples per problem)")
    return fig


def coverage_figure(cmp: Comparison) -> Figure:
    """Problems solved by both runs, by one only, by neither (full budget, and first K)."""
    if cmp.coverage is None:
        raise FigureError("coverage needs two runs on the same dataset")
    a, b = cmp.keys[0], cmp.keys[1]
    names = ["both", f"only {a}", f"only {b}", "neither"]
    groups = [("all samples", cmp.coverage)]
    if cmp.coverage_at_k is not None:
        groups.append((f"first {cmp.coverage_at_k.k}", cmp.coverage_at_k))
    fig, ax = _figure(2.2)
    x = np.arange(len(names))
    width = 0.8 / len(groups)
    handles = []
    for i, (_, cov) in enumerate(groups):
        c = cov.as_counts()
        heights = [c["both"], c["only_a"], c["only_b"], c["neither"]]
        bars = ax.bar(x + (i - (len(groups) - 1) / 2) * width, heights, width,
                      color=COLOURS[2 + i])
        _bar_ids(bars, f"coverage-bars-{i}")
        ax.bar_label(bars, fontsize=6, padding=1)
        handles.append(bars)
    ax.set_xticks(x, [text(n) for n in names])
    ax.grid(axis="x", visible=False)
    ax.set_ylabel("problems")
    ax.set_title(f"coverage over {len(cmp.shared_problems)} problems", loc="left")
    ax.margins(y=0.12)
    if len(groups) > 1:
        _legend(ax, handles, [g for g, _ in groups], loc="upper right")
    return fig


def histogram_figure(cmp: Comparison) -> Figure:
    """Problems per accuracy bin c/n (12 bins: 0, (0, 0.1], ..., (0.9, 1), 1) for every run."""
    from .metrics import HISTOGRAM_LABELS

    fig, ax = _figure(2.3)
    x = np.arange(len(HISTOGRAM_LABELS))
    width = 0.8 / len(cmp.keys)
    handles = []
    for i, key in enumerate(cmp.keys):
        bars = ax.bar(x + (i - (len(cmp.keys) - 1) / 2) * width, cmp.histograms[key], width,
                      color=COLOURS[i % len(COLOURS)],
                      hatch=None if i == 0 else ["//", "..", "xx"][(i - 1) % 3],
                      edgecolor="white", linewidth=0.3)
        _bar_ids(bars, f"histogram-bars-{i}")
        handles.append(bars)
    ax.set_xticks(x, HISTOGRAM_LABELS, rotation=45, ha="right", rotation_mode="anchor")
    ax.grid(axis="x", visible=False)
    ax.set_xlabel("accuracy c/n")
    ax.set_ylabel("problems")
    _legend(ax, handles, cmp.keys, loc="upper left")
    return fig


def trajectory_figure(tr: Trajectory) -> Figure:
    """pass@1 and pass@K per checkpoint, base first, in checkpoint order."""
    fig, ax = _figure(2.3)
    x = np.arange(len(tr.rows))
    p1 = ax.plot(x, [r.pass_at_1 for r in tr.rows], color=COLOURS[0], marker="o",
                 markersize=3.5, gid="trajectory-pass1")[0]
    pk = ax.plot(x, [r.pass_at_k for r in tr.rows], color=COLOURS[1], linestyle="--",
                 marker="s", markersize=3.5, gid="trajectory-passK")[0]
    labels = [r.key if r.step is None or str(r.step) in r.key else f"{r.key}\n(step {r.step})"
              for r in tr.rows]
    ax.set_xticks(x, [text(lab) for lab in labels],
                  rotation=0 if len(x) <= 4 else 45, ha="center" if len(x) <= 4 else "right")
    ax.set_xlim(-0.3, len(x) - 0.7)
    ax.set_xlabel("checkpoint")
    ax.set_ylabel("pass@k")
    _legend(ax, [p1, pk], ["pass@1", f"pass@{tr.k}"], loc="best")
    return fig


def ppl_edges(values: list[np.ndarray], bins: int = 40) -> np.ndarray:
    """Shared bin edges from 0 to the 99.5th percentile of all values (a long tail of a few
    samples would otherwise squeeze every distribution into one bin)."""
    allv = np.concatenate(values) if values else np.zeros(0)
    top = float(np.quantile(allv, 0.995)) if allv.size else 1.0
    return np.linspace(0.0, top if top > 0 else 1.0, bins + 1)


def ppl_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of samples per bin; values beyond the last edge count in the last bin."""
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), edges)
    return counts / max(values.size, 1)


def ppl_figure(scored: Mapping[tuple[str, str], ScoredRun], runs: list[str],
               own: Mapping[str, str] | None = None) -> Figure:
    """log PPL distributions: one panel per scorer, one step histogram per generating run.

    Args:
        scored: ``(scorer, run) -> ScoredRun``.
        runs: run labels in drawing order (colours follow this order, as in the other figures).
        own: ``scorer -> its own run``; that run's median is marked (the report's threshold).
    """
    scorers = list(dict.fromkeys(s for s, r in scored if r in runs))
    if not scorers:
        raise FigureError("no scored samples for these runs (reachscope score DB --scorer ...)")
    fig, axes = _figure(1.9 * len(scorers) + 0.4, nrows=len(scorers), squeeze=False)
    for j, scorer in enumerate(scorers):
        ax = axes[j][0]
        present = [r for r in runs if (scorer, r) in scored]
        edges = ppl_edges([scored[(scorer, r)].log_ppl for r in present])
        handles = []
        for r in present:
            i = runs.index(r)
            values = scored[(scorer, r)].log_ppl
            h = ax.stairs(ppl_shares(values, edges), edges, color=COLOURS[i % len(COLOURS)],
                          linestyle=LINESTYLES[i % len(LINESTYLES)], linewidth=1.2,
                          gid=f"ppl-{j}-{i}")
            handles.append(h)
        mine = (own or {}).get(scorer)
        if mine in present:
            med = float(np.median(scored[(scorer, mine)].log_ppl))
            ax.axvline(med, color="0.3", linestyle=":", linewidth=1, gid=f"ppl-median-{j}")
            ax.annotate(text(f"median of {mine}"), (med, 0.95),
                        xycoords=("data", "axes fraction"), xytext=(3, 0),
                        textcoords="offset points", fontsize=6, color="0.3", va="top")
        ax.set_title(text(f"scored by {scorer}") + f"  (last bin: ≥ {edges[-2]:.3g})",
                     loc="left")
        ax.set_ylabel("share of samples")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylim(bottom=0)
        _legend(ax, handles, present, loc="upper right")
    axes[-1][0].set_xlabel("log PPL (−mean token log-prob)")
    return fig


def save(fig: Figure, path: str | Path) -> None:
    """Write ``fig`` to ``path``; the format is the suffix (.pdf, .png or .svg)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise FigureError(f"{path}: unknown figure format {suffix or '(none)'!r} "
                          f"(use {', '.join(FORMATS)})")
    # No creation dates: the same data gives the same file.
    metadata = {".pdf": {"CreationDate": None}, ".svg": {"Date": None}}.get(suffix)
    fig.savefig(path, format=suffix[1:], metadata=metadata)


_SVG_ID = re.compile(r'(\bid=")([^"]+)(")|(url\(#)([^)]+)(\))|(xlink:href="#)([^"]+)(")')


def svg_markup(fig: Figure, prefix: str) -> str:
    """``fig`` as an ``<svg>`` element to inline in HTML, every id prefixed with ``prefix``.

    Several figures on one page would otherwise share ids (``patch_1``, clip paths), and a
    ``url(#...)`` reference could resolve to another figure's element.
    """
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]

    def rename(m: re.Match[str]) -> str:
        g = [x for x in m.groups() if x is not None]
        return f"{g[0]}{prefix}{g[1]}{g[2]}"

    return _SVG_ID.sub(rename, svg)
