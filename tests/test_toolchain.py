"""The toolchain that runs is the one declared, and a wheel carries what an installed app needs."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_one_python_version_is_declared_everywhere() -> None:
    floor = CONFIG["project"]["requires-python"]
    assert floor == ">=3.11", "tomllib (used by the code and tests) needs 3.11"
    assert CONFIG["tool"]["ruff"]["target-version"] == "py311"
    assert CONFIG["tool"]["mypy"]["python_version"] == "3.11"
    assert sys.version_info >= (3, 11)


def test_textual_is_pinned_to_a_minor_range() -> None:
    deps = {d.split(">")[0].split("=")[0].split("<")[0].strip(): d
            for d in CONFIG["project"]["dependencies"]}
    spec = deps["textual"].split("#")[0]
    assert ">=" in spec and "<" in spec, spec
    from importlib.metadata import version

    lo = spec.split(">=")[1].split(",")[0].strip()
    hi = spec.split("<")[1].strip().strip('"')
    installed = tuple(int(x) for x in version("textual").split(".")[:2])
    assert tuple(int(x) for x in lo.split(".")[:2]) <= installed < tuple(
        int(x) for x in hi.split(".")[:2])


def test_ci_runs_the_linters_and_the_readme_test_command() -> None:
    run = (ROOT / ".ci" / "run").read_text().splitlines()
    text = "\n".join(run)
    for tool in ("ruff check", "mypy", "import_contract.sh", "wheel_check.sh"):
        assert tool in text, tool
    readme = (ROOT / "README.md").read_text()
    assert run[-1].strip() == ".venv/bin/python -m pytest -q"
    assert run[-1].strip() in readme


def test_import_contract_is_declared_as_layers() -> None:
    (contract,) = CONFIG["tool"]["importlinter"]["contracts"]
    assert contract["type"] == "layers"
    assert contract["layers"] == ["reachscope.tui", "reachscope.core", "reachscope.store"]


@pytest.mark.slow
def test_the_wheel_carries_the_demo_and_package_data(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("reachscope-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "reachscope/sample_db/demo.db" in names
    assert "reachscope/tui/app.tcss" in names
    assert "reachscope/core/data/math500.jsonl" in names
    assert not any(n.startswith(("core/", "store/", "tui/", "tests/")) for n in names)
