"""`reachscope tui` / `serve` wiring: lazy textual import, default database, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from reachscope.core.cli import cli
from reachscope.core.commands import tui as tui_cmd


def test_tui_command_does_not_import_textual_until_run() -> None:
    code = ("import sys\nfrom reachscope.core.cli import cli\n"
            "cli.get_command(None, 'tui'); cli.get_command(None, 'serve')\n"
            "sys.exit(1 if any(m.split('.')[0] in ('textual', 'textual_serve') "
            "for m in sys.modules) else 0)\n")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["tui", str(tmp_path / "nope.db")])
    assert result.exit_code != 0 and "no such database" in result.output


def test_default_database_is_the_demo(monkeypatch, tmp_path: Path) -> None:
    from reachscope.core import demo

    assert tui_cmd.resolve_db(None) == demo.demo_db_path()
    assert demo.demo_db_path().parts[-2:] == ("sample_db", "demo.db")
    monkeypatch.setattr(demo.resources, "files", lambda _pkg: tmp_path)
    result = CliRunner().invoke(cli, ["tui"])
    assert result.exit_code != 0 and "demo database is missing" in result.output


def test_the_cli_builds_the_app_with_the_tested_factory(monkeypatch, db_path: Path) -> None:
    opened = []

    class FakeRun:  # stands in for the terminal, which a test cannot give the app
        def __init__(self, path: Path, immutable: bool = False, reviewer: str = "") -> None:
            opened.append(path)

        def run(self) -> None:
            opened.append("ran")

    monkeypatch.setattr("reachscope.tui.app.create_app", FakeRun)
    result = CliRunner().invoke(cli, ["tui", str(db_path)])
    assert result.exit_code == 0, result.output
    assert opened == [db_path, "ran"]


def test_not_a_database_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("hello")
    result = CliRunner().invoke(cli, ["tui", str(bad)])
    assert result.exit_code != 0 and "bad.db" in result.output
