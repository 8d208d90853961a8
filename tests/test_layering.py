"""One direction of imports: tui -> core -> store; core and store never load textual."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_core_and_store_do_not_import_textual() -> None:
    code = (
        "import sys, importlib, pkgutil\n"
        "import reachscope.store, reachscope.core\n"
        "for pkg in (reachscope.store, reachscope.core):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_store_does_not_import_core_or_tui() -> None:
    for path in (ROOT / "store").rglob("*.py"):
        text = path.read_text()
        assert "reachscope.core" not in text and "reachscope.tui" not in text, path
        assert "from ..core" not in text and "import textual" not in text, path


def test_every_subpackage_is_listed_in_pyproject() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(cfg["tool"]["setuptools"]["packages"])
    for top in ("core", "store", "tui"):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT).parts
            name = "reachscope." + ".".join(rel)
            assert name in listed, f"{name} missing from [tool.setuptools] packages"
