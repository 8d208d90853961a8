"""`reachscope plot` and core/figures.py: the data drawn (read back from the figures' artists)
is the data `report` and `score --report` print, on a copy of the demo database."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from reachscope.core import figures
from reachscope.core.analysis import compare
from reachscope.core.cli import cli
from reachscope.core.commands.plot import build_figure
from reachscope.store import open_db
from reachscope.store.runs import get_run

pytest.importorskip("matplotlib", reason="the plot extra: pip install '.[plot]'")


@pytest.fixture(scope="module")
def demo(demo_copy: Path) -> Path:
    return demo_copy


@pytest.fixture(scope="module")
def conn(demo: Path) -> Any:
    db = open_db(demo, read_only=True)
    yield db
    db.close()


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def by_gid(fig: Any, gid: str) -> Any:
    found = [a for ax in fig.axes for a in (*ax.lines, *ax.collections, *ax.patches)
             if a.get_gid() == gid]
    assert len(found) == 1, f"{gid}: {len(found)} artists"
    return found[0]


def bars(fig: Any, gid: str) -> list[float]:
    """Bar heights left to right (bar j of a group has the gid ``<group>-<j>``)."""
    rects = [p for ax in fig.axes for p in ax.patches
             if (p.get_gid() or "").rpartition("-")[0] == gid]
    assert rects, gid
    return [p.get_height() for p in sorted(rects, key=lambda p: p.get_x())]


def values(curve: dict[str, float | None], ks: list[int]) -> np.ndarray:
    return np.array([np.nan if curve[str(k)] is None else curve[str(k)] for k in ks])


def test_passk_lines_band_and_crossover_are_the_report(demo: Path, conn: Any) -> None:
    report = cli_json("report", str(demo), "--runs", "base", "rl", "--format", "json",
                      "--no-evidence")
    runs = [get_run(conn, "base"), get_run(conn, "rl")]
    with figures.style():
        fig = build_figure(conn, runs, "passk")
    ks = report["ks"]
    for i, key in enumerate(["base", "rl"]):
        line = by_gid(fig, f"passk-curve-{i}")
        assert list(line.get_xdata()) == ks
        np.testing.assert_allclose(line.get_ydata(), values(report["pass_at_k"][key], ks),
                                   rtol=0, atol=1e-12)
    bs = report["bootstrap"]
    diff = by_gid(fig, "passk-diff")
    np.testing.assert_allclose(diff.get_ydata(), values(bs["diff"], ks), atol=1e-12)
    band = by_gid(fig, "passk-band").get_paths()[0].vertices
    low, high = values(bs["low"], ks), values(bs["high"], ks)
    for j, k in enumerate(ks):
        ys = band[np.isclose(band[:, 0], k), 1]
        assert np.isclose(ys, low[j]).any() and np.isclose(ys, high[j]).any(), k
    assert report["crossover_k"] == 13
    for j in range(2):
        assert list(by_gid(fig, f"passk-crossover-{j}").get_xdata()) == [13, 13]
    axes = fig.axes
    assert axes[-1].get_xscale() == "log" and axes[-1].xaxis.get_transform().base == 2
    assert [t.get_text() for t in axes[-1].get_xticklabels()] == [
        "1", "2", "4", "8", "16", "32", "64", "128", "256"]
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["base", "rl"]
    width, _ = fig.get_size_inches()
    assert width == figures.COLUMN_WIDTH


def test_passk_on_a_k_grid_without_bootstrap(conn: Any) -> None:
    runs = [get_run(conn, "base"), get_run(conn, "rl")]
    cmp = compare(conn, runs, ks=[1, 4, 16, 64, 256], bootstrap=0)
    with figures.style():
        fig = figures.passk_figure(cmp)
    assert len(fig.axes) == 1  # no band panel without a bootstrap
    assert list(by_gid(fig, "passk-curve-1").get_xdata()) == [1, 4, 16, 64, 256]


def test_coverage_and_histogram_bars_are_the_report(demo: Path, conn: Any) -> None:
    report = cli_json("report", str(demo), "--runs", "base", "rl", "--format", "json",
                      "--no-evidence", "--coverage-k", "4", "--bootstrap", "0")
    runs = [get_run(conn, "base"), get_run(conn, "rl")]
    with figures.style():
        cov = build_figure(conn, runs, "coverage", coverage_k=4, resamples=0)
        hist = build_figure(conn, runs, "histogram", resamples=0)
    for i, name in enumerate(("coverage", "coverage_at_k")):
        c = report[name]
        assert bars(cov, f"coverage-bars-{i}") == [c["both"], c["only"]["base"],
                                                   c["only"]["rl"], c["neither"]]
    assert bars(cov, "coverage-bars-0") == [293, 5, 1, 1]  # the demo's README numbers
    assert [t.get_text() for t in cov.axes[0].get_xticklabels()] == [
        "both", "only base", "only rl", "neither"]
    for i, key in enumerate(["base", "rl"]):
        assert bars(hist, f"histogram-bars-{i}") == list(report["accuracy_histogram"][key]
                                                         .values())
    assert len(hist.axes[0].get_xticklabels()) == 12


def test_trajectory_lines_are_the_report(demo: Path, conn: Any) -> None:
    report = cli_json("report", str(demo), "--runs", "base", "rl", "--trajectory",
                      "--format", "json")
    with figures.style():
        fig = build_figure(conn, [get_run(conn, "rl"), get_run(conn, "base")], "trajectory",
                           order=["base", "rl"])
    p1, pk = by_gid(fig, "trajectory-pass1"), by_gid(fig, "trajectory-passK")
    assert list(p1.get_ydata()) == [r["pass_at_1"] for r in report["rows"]]
    assert list(pk.get_ydata()) == [r["pass_at_k"] for r in report["rows"]]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["base", "rl"]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "pass@1", f"pass@{report['k']}"]


def test_ppl_distributions_match_the_likelihood_report(demo: Path, conn: Any) -> None:
    report = cli_json("score", str(demo), "--report", "--format", "json")
    with figures.style():
        fig = build_figure(conn, [get_run(conn, "base"), get_run(conn, "rl")], "ppl")
    scorers = ["base", "rl"]
    for j, scorer in enumerate(scorers):
        for i, run in enumerate(["base", "rl"]):
            shares, edges, _ = by_gid(fig, f"ppl-{j}-{i}").get_data()
            assert shares.sum() == pytest.approx(1.0)
            # The report's pooled median lies in the bin where the drawn shares pass one half.
            cell = next(c for c in report["matrix"] if (c["scorer"], c["run"]) == (scorer, run))
            assert cell["pooled"]["n"] == 256 * 300
            median = cell["pooled"]["median"]
            b = int(np.searchsorted(edges, median, side="right")) - 1
            cum = np.cumsum(shares)
            assert (cum[b - 1] if b else 0.0) <= 0.5 <= cum[b] + 1e-12, (scorer, run)
        own = next(p for p in report["placements"] if p["scorer"] == scorer)
        assert by_gid(fig, f"ppl-median-{j}").get_xdata()[0] == pytest.approx(
            own["own_median_log_ppl"])


def test_labels_are_literal_text(conn: Any) -> None:
    """A '$' would start mathtext and a leading '_' would hide a legend entry."""
    cmp = compare(conn, [get_run(conn, "base"), get_run(conn, "rl")], bootstrap=0)
    odd = ["_base", "r$l$ <&>"]
    cmp.curves = dict(zip(odd, cmp.curves.values()))
    cmp.keys = odd
    with figures.style():
        fig = figures.passk_figure(cmp)
        svg = figures.svg_markup(fig, "f-")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "_base", r"r\$l\$ <&>"]
    assert "_base" in svg and "r$l$ &lt;&amp;&gt;" in svg


def test_svg_ids_are_prefixed(conn: Any) -> None:
    cmp = compare(conn, [get_run(conn, "base"), get_run(conn, "rl")], bootstrap=100)
    with figures.style():
        svg = figures.svg_markup(figures.passk_figure(cmp), "fig1-")
    assert svg.startswith("<svg") and 'id="fig1-passk-curve-0"' in svg
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    refs = set(re.findall(r'url\(#([^)]+)\)', svg))
    assert ids and all(i.startswith("fig1-") for i in ids)
    assert refs and refs <= ids


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"),
                                          (".svg", b"<?xml")])
def test_cli_writes_each_format(demo: Path, tmp_path: Path, suffix: str, magic: bytes) -> None:
    out = tmp_path / f"fig{suffix}"
    result = CliRunner().invoke(cli, ["plot", str(demo), "--runs", "base", "rl", "--kind",
                                      "histogram", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(magic)


def test_cli_style_file_applies_over_the_defaults(demo: Path, tmp_path: Path) -> None:
    style = tmp_path / "paper.mplstyle"
    style.write_text("axes.facecolor: FFEEDD\nfont.size: 11\n")
    out = tmp_path / "fig.svg"
    result = CliRunner().invoke(cli, ["plot", str(demo), "--runs", "base", "rl", "--kind",
                                      "coverage", "--out", str(out), "--style", str(style)])
    assert result.exit_code == 0, result.output
    assert "#ffeedd" in out.read_text()


@pytest.mark.parametrize("args,message", [
    (["--kind", "passk", "--out", "fig.jpg"], "fig.jpg: unknown figure format"),
    (["--kind", "passk", "--out", "fig.png", "--style", "nope.mplstyle"],
     "nope.mplstyle: no such style file"),
    (["--runs", "nosuchrun", "--out", "fig.png"], "nosuchrun"),
    (["--runs", "qwen-instruct", "--kind", "ppl", "--out", "fig.png"], "no scored samples"),
])
def test_cli_errors_are_one_line(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["plot", str(demo), *args])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_without_matplotlib_a_one_line_error(demo: Path, tmp_path: Path) -> None:
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from reachscope.core.cli import main\n"
            f"sys.argv = ['reachscope', 'plot', {str(demo)!r}, '--out', 'x.png']\n"
            "main()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("Error: figures need matplotlib: pip install "
                                   "'reachscope[plot]' (or pip install matplotlib)")


def test_importing_figures_loads_no_matplotlib() -> None:
    code = ("import sys, reachscope.core.figures, reachscope.core.commands.plot\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
