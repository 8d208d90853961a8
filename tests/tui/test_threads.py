"""Thread workers never assign screen or app state (issue 9, point 9): they return data in
messages, and the `@on` handlers, on the UI thread, assign it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SCREENS = Path(__file__).resolve().parents[2] / "tui" / "screens"


def _thread_workers(tree: ast.Module) -> list[ast.FunctionDef]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and getattr(dec.func, "id", "") == "work" and any(
                        k.arg == "thread" and getattr(k.value, "value", False)
                        for k in dec.keywords):
                    out.append(node)
    return out


def _called_helpers(tree: ast.Module, worker: ast.FunctionDef) -> list[ast.FunctionDef]:
    """Methods of the class that the worker calls as ``self.name(...)`` (they run in it too)."""
    methods = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    called = {n.func.attr for n in ast.walk(worker) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Attribute) and getattr(n.func.value, "id", "") == "self"}
    return [methods[c] for c in called if c in methods and c != "post_message"]


# compare.py, problems.py and problem.py still set `self._generation` in their workers (a
# bookkeeping int, read only by the screen's own resume check): not covered here yet.
@pytest.mark.parametrize("name", ["diff.py", "live.py", "trace.py"])
def test_thread_workers_assign_no_state(name: str) -> None:
    tree = ast.parse((SCREENS / name).read_text())
    workers = _thread_workers(tree)
    assert workers or name == "trace.py"
    bad = []
    for worker in workers:
        for fn in [worker, *_called_helpers(tree, worker)]:
            for node in ast.walk(fn):
                targets = node.targets if isinstance(node, ast.Assign) else \
                    [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else []
                for target in targets:
                    for t in ast.walk(target):
                        if isinstance(t, ast.Attribute) and getattr(t.value, "id", "") in (
                                "self", "app"):
                            bad.append(f"{name}:{t.lineno} {fn.name} assigns "
                                       f"{t.value.id}.{t.attr}")
    assert not bad, bad
