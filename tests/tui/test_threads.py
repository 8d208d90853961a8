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


@pytest.mark.parametrize("name", ["compare.py", "diff.py", "live.py", "problem.py",
                                  "problems.py", "trace.py"])
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


async def test_generation_is_recorded_by_the_handlers(db_path: Path) -> None:
    """Each screen records the data generation its message carried, on the UI thread."""
    import threading

    from reachscope.tui.app import create_app
    from reachscope.tui.screens.compare import CompareScreen
    from reachscope.tui.screens.problem import ProblemScreen
    from reachscope.tui.screens.problems import ProblemsScreen

    from .helpers import settle

    seen: list[tuple[str, bool]] = []
    for cls in (CompareScreen, ProblemsScreen, ProblemScreen):
        original = cls.__setattr__

        def spy(self, name, value, _cls=cls, _orig=original):  # noqa: ANN001, ANN202
            if name == "_generation" and value != -1:
                seen.append((_cls.__name__, threading.current_thread() is threading.main_thread()))
            _orig(self, name, value)

        cls.__setattr__ = spy
    try:
        app = create_app(db_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("p")
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, ProblemScreen)
            assert app.screen._generation == app.generation
    finally:
        for cls in (CompareScreen, ProblemsScreen, ProblemScreen):
            del cls.__setattr__
    assert {name for name, _ in seen} == {"CompareScreen", "ProblemsScreen", "ProblemScreen"}
    assert all(on_ui for _, on_ui in seen), seen
