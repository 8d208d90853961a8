"""`reachscope report --format html`: one self-contained page with the report's own numbers,
every user text escaped (the rendering in a real browser: tests/tui/test_browser.py)."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from reachscope.core.cli import cli
from reachscope.store import ProblemIn, RunSpec, open_db
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run

from tests.tui.fixture_db import write_problem_samples

pytest.importorskip("matplotlib", reason="the plot extra: pip install '.[plot]'")

HOSTILE_PROBLEM = '<script>alert("p")</script> & what is 1 + 1?'
HOSTILE_LABELS = ("<b>base</b>", "rl&<img src=x onerror=alert(1)>")


@pytest.fixture(scope="module")
def demo(demo_copy: Path) -> Path:
    return demo_copy


@pytest.fixture(scope="module")
def page(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("page") / "report.html"
    result = CliRunner().invoke(cli, ["report", str(demo), "--runs", "base", "rl", "--format",
                                      "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


class Tags(HTMLParser):
    """Counts elements and checks that the non-void ones close in order."""

    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:  # type: ignore[type-arg]
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:  # type: ignore[type-arg]
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    tags.close()
    return tags


def markdown_rows(demo: Path) -> list[list[str]]:
    result = CliRunner().invoke(cli, ["report", str(demo), "--runs", "base", "rl", "--format",
                                      "markdown", "--no-evidence"])
    assert result.exit_code == 0, result.output
    lines = result.output.split("\n\n")[0].splitlines()[2:]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines]


def html_table_rows(section: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", section, re.S)
    assert body
    return [re.findall(r"<td[^>]*>(.*?)</td>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", body.group(1))]


def section(page: str, ident: str) -> str:
    m = re.search(rf'<section id="{ident}">(.*?)</section>', page, re.S)
    assert m, ident
    return m.group(1)


def test_page_is_whole_and_self_contained(page: str) -> None:
    tags = parse(page)
    assert not tags.errors and not tags.stack
    assert tags.counts["svg"] == 4  # pass@k, coverage, histogram, perplexity
    for ident in ("runs", "parameters", "passk", "coverage", "histogram", "evidence",
                  "likelihood", "solved-by-one"):
        assert f'<section id="{ident}">' in page
    assert "<script" not in page and "<link" not in page and " src=" not in page
    assert not re.search(r'href="(?!#)', page)  # nothing to fetch: the page travels alone
    # Each figure's ids carry its own prefix, so four inline SVGs share none.
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    assert 'id="passk-passk-curve-0"' in page and 'id="coverage-coverage-bars-0-0"' in page


def test_tables_are_the_report(page: str, demo: Path) -> None:
    assert html_table_rows(section(page, "passk")) == markdown_rows(demo)
    cov = html_table_rows(section(page, "coverage"))
    assert cov == [["both", "293"], ["only base", "5"], ["only rl", "1"], ["neither", "1"]]
    hist = html_table_rows(section(page, "histogram"))
    assert len(hist) == 12 and sum(int(r[1]) for r in hist) == 300
    assert "crossover k: 13" in section(page, "passk")
    params = section(page, "parameters")
    assert "<td>temperature</td><td>0.6</td><td>0.6</td>" in params
    assert "provenance of base" in params and "model_config_sha256" in params
    only = section(page, "solved-by-one")
    assert "only base: 5 problems" in only and "only rl: 1 problem<" in only


def hostile_db(path: Path) -> None:
    rng = random.Random(3)
    db = open_db(path)
    with db.atomic():
        problems = [ProblemIn(idx=0, prompt=HOSTILE_PROBLEM, answer="2"),
                    ProblemIn(idx=1, prompt="What is 2 + 2?", answer="4")]
        pids = upsert_problems(db, "tiny", problems)
        for r, label in enumerate(HOSTILE_LABELS):
            run_id, _ = get_or_create_run(db, RunSpec(
                label=label, dataset="tiny", model=f"model<{r}>", n_target=4,
                status="finished", primary_grader="math", params={"note": "</td><td>x"}))
            for pi, pid in enumerate(pids):
                correct = [(2, 0), (1, 3)][pi][r]
                write_problem_samples(db, run_id, pid, problems[pi].answer or "", correct,
                                      range(4), rng, style_base=r)
    db.close()


def test_user_text_is_escaped(tmp_path: Path) -> None:
    db = tmp_path / "hostile.db"
    hostile_db(db)
    result = CliRunner().invoke(cli, ["report", str(db), "--format", "html", "--bootstrap",
                                      "50"])
    assert result.exit_code == 0, result.output
    html = result.output
    assert "<script" not in html and "<img" not in html and "<b>base" not in html
    assert "&lt;script&gt;alert(&quot;p&quot;)&lt;/script&gt; &amp; what is 1 + 1?" in html
    assert "rl&amp;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;/td&gt;&lt;td&gt;x" in html
    tags = parse(html)
    assert not tags.errors and tags.counts["svg"] == 3  # no scores: no perplexity figure


def test_without_matplotlib_the_page_says_so(demo: Path, tmp_path: Path) -> None:
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from reachscope.core.cli import main\n"
            f"sys.argv = ['reachscope', 'report', {str(demo)!r}, '--runs', 'base', 'rl', "
            "'--format', 'html', '--out', 'r.html', '--bootstrap', '50', '--no-evidence']\n"
            "main()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<svg" not in html and "<table>" in html
    assert "no figures: figures need matplotlib: pip install &#x27;reachscope[plot]&#x27;" in html


@pytest.mark.parametrize("args,message", [
    (["--format", "csv", "--out", "r.html"], "--out works with --format html"),
    (["--format", "html", "--trajectory"], "--out works with --format html"),
])
def test_usage_errors(demo: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["report", str(demo), *args])
    assert result.exit_code == 2 and message in result.output


def test_three_runs_add_the_checkpoint_trajectory(tmp_path: Path) -> None:
    rng = random.Random(5)
    path = tmp_path / "ckpt.db"
    db = open_db(path)
    with db.atomic():
        problems = [ProblemIn(idx=i, prompt=f"What is {i} + {i}?", answer=str(2 * i + 10))
                    for i in range(6)]
        pids = upsert_problems(db, "toy", problems)
        for r, label in enumerate(["step200", "base", "step100"]):
            run_id, _ = get_or_create_run(db, RunSpec(
                label=label, dataset="toy", model=f"m/{label}", n_target=4, status="finished",
                primary_grader="math"))
            for pi, pid in enumerate(pids):
                write_problem_samples(db, run_id, pid, problems[pi].answer or "",
                                      (pi + r) % 5, range(4), rng, style_base=r % 2)
    db.close()
    tr = CliRunner().invoke(cli, ["report", str(path), "--trajectory", "--format", "json"])
    assert tr.exit_code == 0, tr.output
    expected = json.loads(tr.output)
    result = CliRunner().invoke(cli, ["report", str(path), "--format", "html", "--bootstrap",
                                      "50"])
    assert result.exit_code == 0, result.output
    rows = html_table_rows(section(result.output, "trajectory"))
    assert [r[0] for r in rows] == ["base", "step100", "step200"]
    assert [r[0] for r in rows] == [r["label"] for r in expected["rows"]]
    assert [float(r[2]) for r in rows] == [round(r["pass_at_1"], 3) for r in expected["rows"]]
    assert 'id="trajectory-trajectory-pass1"' in result.output
