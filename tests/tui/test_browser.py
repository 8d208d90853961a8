"""What a real browser shows (issue 15): headless Chromium renders the HTML report, and drives
`reachscope serve` through its page until the Compare screen is drawn and answers a key.

Run under the heavy lock (it starts a browser). Chromium is required: without it these tests
fail, unless REACHSCOPE_NO_BROWSER=1 opts out (see tests/tui/browser.py).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from reachscope.core.analysis import compare
from reachscope.core.cli import cli
from reachscope.store import open_db
from reachscope.store.runs import get_run

from .browser import browser, serving

#: textual-serve keeps its xterm.js Terminal in a closure; this hook, run before the page's
#: scripts, catches it when the page's terminal wrapper assigns its ``fitAddon`` (textual-serve
#: 1.1 sets ``this.terminal`` just before), so the test can read the terminal's own screen
#: buffer: the text the page drew, not the bytes on the socket.
CATCH_TERMINAL = """Object.defineProperty(Object.prototype, 'fitAddon', {configurable: true,
  set(v) {
    Object.defineProperty(this, 'fitAddon', {value: v, writable: true, configurable: true,
                                             enumerable: true});
    if (this.terminal && !window.__rsTerminal) window.__rsTerminal = this.terminal;
  }});"""

#: The terminal's visible rows as text (null until the page made its terminal).
SCREEN = """(() => { const t = window.__rsTerminal; if (!t) return null;
  const b = t.buffer.active, rows = [];
  for (let i = 0; i < t.rows; i++) {
    const line = b.getLine(b.viewportY + i); rows.push(line ? line.translateToString(true) : '');
  }
  return rows.join('\\n'); })()"""


def screen_when(*needles: str) -> str:
    """A JS expression: the screen text once it holds every needle (else null)."""
    checks = " && ".join(f"s.includes({n!r})" for n in needles)
    return f"(() => {{ const s = {SCREEN}; return s && {checks} ? s : null; }})()"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    from reachscope.core.demo import demo_db_path

    path = tmp_path_factory.mktemp("browser") / "demo.db"
    shutil.copyfile(demo_db_path(), path)
    return path


async def test_report_page_renders_in_chromium(demo: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra: pip install '.[plot]'")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", str(demo), "--runs", "base", "rl", "--format",
                                      "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    started = time.monotonic()
    async with browser(tmp_path / "profile") as page:
        await page.navigate(out.as_uri())
        shown = await page.evaluate("""(() => {
          const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
          const curve = document.getElementById('passk-passk-curve-0');
          return {
            figures: [...document.querySelectorAll('figure > svg')].map(box),
            curve: curve ? box(curve) : null,
            bars: document.querySelectorAll('[id^="coverage-coverage-bars-0-"]').length,
            tables: document.querySelectorAll('table').length,
            passk: [...document.querySelectorAll('#passk tbody tr')].map(
              (tr) => [...tr.cells].map((td) => td.textContent)),
            labels: [...document.querySelectorAll('#passk svg text')].map((t) => t.textContent),
            text: document.body.innerText,
          }; })()""")
        errors = page.console_errors()
    seconds = time.monotonic() - started
    # Four figures laid out at a readable size, their drawn curve and bars present.
    assert len(shown["figures"]) == 4
    assert all(w > 300 and h > 150 for w, h in shown["figures"]), shown["figures"]
    assert shown["curve"][0] > 200 and shown["curve"][1] > 50
    assert shown["bars"] == 4
    assert "pass@k" in shown["labels"] and "crossover k = 13" in shown["labels"]
    # The tables as rendered: pass@k at k = 1 and 256, coverage, the crossover sentence.
    assert shown["tables"] >= 8
    assert shown["passk"][0][:3] == ["1", "0.652", "0.791"]
    assert shown["passk"][-1][:3] == ["256", "0.993", "0.980"]
    assert "crossover k: 13" in shown["text"] and "only base: 5 problems" in shown["text"]
    assert not errors
    print(f"report page rendered and checked in {seconds:.1f} s")


async def test_served_compare_screen_renders_and_answers_a_key(demo: Path,
                                                                tmp_path: Path) -> None:
    conn = open_db(demo, read_only=True)
    try:
        runs = [get_run(conn, "base"), get_run(conn, "rl")]
        at_2 = compare(conn, runs, coverage_k=2, bootstrap=0).coverage_at_k
    finally:
        conn.close()
    assert at_2 is not None
    started = time.monotonic()
    with serving(demo) as (base, token, printed):
        assert "bound to 127.0.0.1" in printed and "only this machine" in printed
        async with browser(tmp_path / "profile", width=1000, height=700) as page:
            # The page asks Google for a web font; nothing outside is reachable here, so fail
            # that request at once instead of waiting for it.
            await page.send("Network.enable")
            await page.send("Network.setBlockedURLs", urls=["*fonts.googleapis.com*"])
            await page.send("Page.addScriptToEvaluateOnNewDocument", source=CATCH_TERMINAL)
            await page.navigate(f"{base}/?token={token}")
            await page.wait_for("!!window.__rsTerminal", 30,
                                "the page's xterm Terminal (has textual-serve's page changed?)")
            # Compare, drawn: both runs' pass@1 and pass@256, coverage at k = 1, the footer.
            before = await page.wait_for(
                screen_when("0.652", "0.993", "0.791", "0.980", "all samples", "k = 1",
                            "Curves/", "Problems"), 90, "the Compare screen")
            assert "reachscope" in before and "demo.db" in before
            await page.evaluate("window.__rsTerminal.focus(), true")
            await page.key("+", "Equal", 187, "+")
            after = await page.wait_for(screen_when("k = 2"), 30, "coverage at k = 2")
        # The row for the first 2 samples holds the counts core computes.
        row = next(line for line in after.splitlines() if "k = 2" in line)
        counts = [int(x) for x in re.findall(r"\d+", row.split("k = 2")[1])[:4]]
        assert counts == [len(at_2.both), len(at_2.only_a), len(at_2.only_b),
                          len(at_2.neither)]
        assert "k = 1 " not in after
        assert not page.console_errors()
    print(f"served app rendered and answered a key in {time.monotonic() - started:.1f} s")
