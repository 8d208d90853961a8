"""The CLI prints run labels, reviewer names and messages as they are, never as Rich markup
(a run labelled ``rl[/]`` made ``reachscope report`` and ``runs`` raise MarkupError)."""

from __future__ import annotations

import io
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from reachscope.core.cli import cli
from reachscope.core.commands.sample import RichReporter
from reachscope.core.demo import demo_db_path
from reachscope.store import open_db
from reachscope.store.annotations import set_label
from rich.console import Console

BASE, RL = "[b]base", "rl[/]"


@pytest.fixture(scope="module")
def markup_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo database with its lab runs relabelled as markup-like text."""
    path = tmp_path_factory.mktemp("literal") / "demo.db"
    shutil.copyfile(demo_db_path(), path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE runs SET label = ? WHERE label = 'base'", [BASE])
        conn.execute("UPDATE runs SET label = ? WHERE label = 'rl'", [RL])
    conn.close()
    return path


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("extra", [
    pytest.param([], id="table"),
    pytest.param(["--evidence"], id="evidence"),
    pytest.param(["--validated"], id="validated"),
])
def test_report_prints_markup_like_labels_as_they_are(markup_db: Path, extra: list[str]) -> None:
    out = run("report", str(markup_db), "--runs", BASE, "--runs", RL, "--bootstrap", "0",
              *extra)
    assert f"only {BASE}" in out and f"only {RL}" in out
    assert f"pass@k({RL}) - pass@k({BASE})" in out


def test_runs_and_score_report_print_labels_as_they_are(markup_db: Path) -> None:
    out = run("runs", str(markup_db))
    assert BASE in out and RL in out
    out = run("score", str(markup_db), BASE, RL, "--report")
    assert BASE in out and RL in out


def test_review_status_prints_reviewer_names_as_they_are(tmp_path: Path) -> None:
    # The demo's own labels: its review queue names the runs by their shipped labels.
    path = tmp_path / "review.db"
    shutil.copyfile(demo_db_path(), path)
    db = open_db(path)
    (sample_id,) = db.execute(
        "SELECT sample_id FROM review_items ORDER BY position LIMIT 1").fetchone()
    set_label(db, sample_id, "flawed", "", "[i]ada")  # a review label
    db.close()
    out = run("review", str(path), "--status")
    assert "[i]ada " in out and "[i]ada vs " in out  # its row, and its agreement line
    assert "\\[" not in out  # not escaped either: the console reads no markup


def test_sample_progress_and_errors_print_labels_as_they_are() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=120, markup=False)
    with RichReporter(console) as reporter:
        reporter.start(RL, total=4, done=0)
        reporter.error(RL, "request failed: [/] bad")
        reporter.advance(RL, 4, 40)
        reporter.stop(RL)
    out = buffer.getvalue()
    assert f"{RL}: request failed: [/] bad" in out
    assert out.count(RL) >= 2  # the progress line names the run too
