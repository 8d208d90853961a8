"""Where the demo database lives, for a checkout and for an installed wheel alike."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def demo_db_path() -> Path:
    """The shipped demo database, found as package data of ``reachscope.sample_db``.

    Raises:
        FileNotFoundError: the installation has no demo database (a wheel built without it).
    """
    try:
        ref = resources.files("reachscope.sample_db").joinpath("demo.db")
    except ModuleNotFoundError as exc:  # a broken or partial installation
        raise FileNotFoundError("the reachscope.sample_db package is not installed") from exc
    path = Path(str(ref))
    if not path.is_file():
        raise FileNotFoundError(f"the demo database is missing ({path})")
    return path
