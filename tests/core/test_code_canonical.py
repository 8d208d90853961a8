"""Reference solutions pass, and the standard library imports, inside the sandbox.

Both in the mode this process gets (root: own uid, mount and network namespace) and in the
non-root mode, forced by running the sandbox with ``Mode(..., uid=None)``.
"""

from __future__ import annotations

import sys

import pytest
from reachscope.core.datasets import BUILTIN_DATASETS, load_dataset
from reachscope.core.graders import GradeTask, GradingPool
from reachscope.core.graders.code import build_parts
from reachscope.core.graders.sandbox import Limits, Mode, _run, sandbox_mode

CODE_DATASETS = [name for name, d in BUILTIN_DATASETS.items() if d.kind == "code"]
MODES = {"current": sandbox_mode(), "non-root": Mode(sys.executable, None)}
STDLIB = ("random", "socket", "math", "itertools", "collections", "heapq", "re", "string",
          "hashlib", "datetime", "fractions", "statistics", "functools", "operator", "bisect",
          "typing", "decimal", "copy", "json", "cmath", "array", "enum", "dataclasses",
          "textwrap", "unicodedata", "struct", "time", "calendar", "numbers", "sys", "os",
          "io", "abc", "contextlib", "pprint", "difflib", "base64", "binascii", "zlib",
          "inspect", "traceback", "tempfile", "shutil", "glob", "csv", "uuid", "secrets",
          "queue", "threading", "weakref", "types", "array", "locale", "argparse")


def test_there_is_a_code_dataset() -> None:
    assert "humaneval" in CODE_DATASETS


@pytest.mark.parametrize("name", CODE_DATASETS)
def test_every_canonical_solution_passes(name: str) -> None:
    problems = load_dataset(name).problems
    tasks = [GradeTask(i, p.metadata["canonical_solution"], None,
                       {"prompt": p.prompt, "metadata": p.metadata})
             for i, p in enumerate(problems)]
    with GradingPool("code", workers=2, options={"timeout": 10}) as pool:
        results = list(pool.imap_unordered(tasks))
    failed = {problems[r.key].metadata.get("task_id"): r.detail for r in results
              if r.verdict != "correct"}
    assert failed == {}
    assert len(results) == len(problems) > 0


@pytest.mark.parametrize("guard", [True, False])
@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_standard_library_imports(mode: Mode, guard: bool) -> None:
    source = "".join(f"import {m}\n" for m in STDLIB)
    source += ("random.seed(1); random.random()\n"
               "collections.namedtuple('P', 'x y')(1, 2)\n"
               "hashlib.sha256(b'x').hexdigest(); re.compile('a+').match('aa')\n"
               "print(statistics.mean([1, 2]), fractions.Fraction(1, 3))\n")
    result = _run(mode, source, Limits(timeout_s=20, guard=guard))
    assert result.finished, result.output_tail


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_canonical_solutions_that_import_random(mode: Mode) -> None:
    """HumanEval/32, 38, 50 and 53 failed when ``import random`` met the guard."""
    problems = {p.metadata["task_id"]: p for p in load_dataset("humaneval").problems}
    for tid in ("HumanEval/32", "HumanEval/38", "HumanEval/50", "HumanEval/53"):
        p = problems[tid]
        source, tests = build_parts(p.prompt, p.metadata["canonical_solution"],
                                    p.metadata["test"], p.metadata["entry_point"])
        result = _run(mode, source, Limits(timeout_s=10), tests)
        assert result.finished, (tid, result.output_tail)
