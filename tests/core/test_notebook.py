"""examples/demo.ipynb runs top to bottom on a copy of the demo, and its numbers are the CLI's."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from reachscope.core.cli import cli

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "demo.ipynb"
DEMO = ROOT / "sample_db" / "demo.db"


def load_runner() -> Any:
    spec = importlib.util.spec_from_file_location("run_notebook",
                                                  ROOT / "examples" / "run_notebook.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """The namespace after every code cell ran (on a copy of the demo), and that copy."""
    copy = tmp_path_factory.mktemp("nb") / "demo.db"
    shutil.copyfile(DEMO, copy)
    notebook = tmp_path_factory.mktemp("nb") / "demo.ipynb"
    shutil.copyfile(NOTEBOOK, notebook)
    mp = pytest.MonkeyPatch()
    mp.setenv("REACHSCOPE_DB", str(copy))
    try:
        namespace = load_runner().run(notebook)
    finally:
        mp.undo()
    return namespace, copy


def report(db: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["report", str(db), "--runs", "base,rl", "--format",
                                      "json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_every_code_cell_runs_on_the_copy(executed: tuple[dict[str, Any], Path]) -> None:
    namespace, copy = executed
    cells = [c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    assert len(cells) >= 10
    assert namespace["db"].path == copy  # the notebook read the copy, not the shipped demo
    assert hashlib.sha256(copy.read_bytes()).digest() == hashlib.sha256(
        DEMO.read_bytes()).digest()


def test_the_notebook_numbers_are_the_reports(executed: tuple[dict[str, Any], Path]) -> None:
    ns, copy = executed
    ks = ",".join(str(k) for k in ns["KS"])
    want = report(copy, "--k", ks, "--bootstrap", "1000", "--seed", "0")
    curves, diff = ns["curves"], ns["diff"]
    for run in ("base", "rl"):
        got = {str(k): v for k, v in curves[run].items()}
        assert got == pytest.approx(want["pass_at_k"][run], rel=1e-12)
    assert {str(k): v for k, v in diff["low"].items()} == pytest.approx(
        want["bootstrap"]["low"], rel=1e-12)
    assert ns["pk"].attrs["crossover_k"] == want["crossover_k"]
    cov = ns["cov"].set_index("solved_by")["problems"]
    assert cov["both"] == want["coverage"]["both"]
    assert cov["only base"] == want["coverage"]["only"]["base"]
    ev = ns["ev"]
    for r in want["evidence"]["runs"]:
        maj = ev[(ev["run"] == r["label"]) & (ev["metric"] == "maj_at_k")].set_index("k")
        assert {str(k): v for k, v in maj["value"].items()} == pytest.approx(r["maj_at_k"])
    dse = ev[ev["metric"] == "dse"]
    assert dse["value"].item() == pytest.approx(
        want["evidence"]["pairs"][0]["efficiency_gap"]["gap"])


def test_the_paged_tally_covers_every_sample(executed: tuple[dict[str, Any], Path]) -> None:
    ns, copy = executed
    verdicts = ns["verdicts"]
    runs = ns["runs"].set_index("label")
    assert int(verdicts.sum()) == runs.loc["rl", "samples"] == 300 * 256
    want = report(copy, "--k", "1", "--bootstrap", "0", "--no-evidence")
    rl = next(r for r in want["runs"] if r["label"] == "rl")
    assert verdicts["correct"] / verdicts.sum() == pytest.approx(rl["mean_accuracy"])
    assert len(ns["page"]) == 5 and set(ns["page"]["run"]) == {"rl"}
