"""Run the code cells of a notebook in order, in one namespace, without Jupyter.

Used by tests/core/test_notebook.py (so the notebook cannot rot) and to refresh the outputs
stored in the notebook:

    python examples/run_notebook.py examples/demo.ipynb --write

Each cell's printed text and the value of its last expression (its ``repr``, as Jupyter's
text/plain) become the cell's outputs. ``REACHSCOPE_DB`` in the environment points the demo
notebook at another database (the test uses a copy of the demo).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
from pathlib import Path
from typing import Any


def code_cells(notebook: dict[str, Any]) -> list[str]:
    """The source of each code cell, in order."""
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]


def run_cell(source: str, namespace: dict[str, Any], name: str) -> tuple[str, Any]:
    """Execute one cell; its printed text and the value of its last expression (or None)."""
    tree = ast.parse(source, filename=name)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(tree, name, "exec"), namespace)
        value = (eval(compile(ast.Expression(last.value), name, "eval"), namespace)
                 if last is not None else None)
    return printed.getvalue(), value


def run(path: Path, write: bool = False) -> dict[str, Any]:
    """Run every code cell of the notebook at ``path``; the namespace they shared.

    With ``write``, store each cell's outputs and execution count in the notebook.
    """
    notebook = json.loads(path.read_text(encoding="utf-8"))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    count = 0
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        count += 1
        printed, value = run_cell("".join(cell["source"]), namespace, f"{path.name}[{count}]")
        outputs: list[dict[str, Any]] = []
        if printed:
            outputs.append({"output_type": "stream", "name": "stdout",
                            "text": printed.splitlines(keepends=True)})
        if value is not None:
            outputs.append({"output_type": "execute_result", "execution_count": count,
                            "metadata": {},
                            "data": {"text/plain": repr(value).splitlines(keepends=True)}})
        cell["outputs"], cell["execution_count"] = outputs, count
    if write:
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    return namespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--write", action="store_true", help="store the outputs in the file")
    args = parser.parse_args()
    run(args.notebook, write=args.write)


if __name__ == "__main__":
    main()
