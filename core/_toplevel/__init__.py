"""reachscope: does RL make a language model reason better, or only sample better?

The Python API over a reachscope database (see `reachscope.core.api`)::

    import reachscope
    db = reachscope.open("runs.db")
    db.pass_at_k(["base", "rl"])

This package is only the entry point: ``open`` and ``Database`` are imported on first use, so
``import reachscope`` loads nothing else (no pandas, textual or torch). The engine, the store
and the app are ``reachscope.core``, ``reachscope.store`` and ``reachscope.tui``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reachscope.core.api import Database, open

__all__ = ["Database", "open"]


def __getattr__(name: str) -> Any:
    # Module-level __getattr__ (PEP 562): the API loads on first use, not at import.
    if name in __all__:
        from reachscope.core import api

        return getattr(api, name)
    raise AttributeError(f"module 'reachscope' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
