"""HumanEval-style code grading: prompt + completion + tests, run in the sandbox."""

from __future__ import annotations

import hashlib
import re
import signal
from typing import Any

from .base import Grader, GradeResult, GradeTask, Unit
from .sandbox import Limits, become_reaper, run_python

#: Bump when program assembly or verdict rules change.
CODE_GRADER_REVISION = "1"
_DETAIL_CHARS = 1000


def build_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The program that checks a completion: prompt + completion + tests + ``check(entry)``.

    A completion that defines the entry point itself (chat models often repeat the whole
    function) is appended after the prompt instead of continuing it, so the prompt's imports
    and helpers stay available and the completion's definition wins.
    """
    if re.search(rf"^def {re.escape(entry_point)}\s*\(", completion, re.MULTILINE):
        body = prompt + "\n" + completion
    else:
        body = prompt + completion
    return f"{body}\n\n{test}\n\ncheck({entry_point})\n"


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _DETAIL_CHARS else "..." + text[-_DETAIL_CHARS:]


class CodeGrader(Grader):
    """Runs each completion against its problem's tests in a sandboxed process.

    Options:
        timeout: wall-clock seconds per program.
        memory_mb: address-space limit per program.
        output_bytes: stdout+stderr limit per program.
        nproc: process limit of the sandbox uid (root only).
        guard: run the Python guard prelude (see ``sandbox``).
        kill_after: extra seconds before the pool kills a worker that stopped answering.
    """

    name = "code"
    max_chunk = 2

    def __init__(
        self,
        timeout: float = 5.0,
        memory_mb: int = 1024,
        output_bytes: int = 1 << 20,
        nproc: int = 32,
        guard: bool = True,
        kill_after: float = 30.0,
    ) -> None:
        self.limits = Limits(
            timeout_s=float(timeout), memory_mb=int(memory_mb), output_bytes=int(output_bytes),
            nproc=int(nproc), guard=bool(guard),
        )
        self.hard_timeout = self.limits.timeout_s + float(kill_after)
        self.version = CODE_GRADER_REVISION

    def prepare(self, task: GradeTask) -> GradeResult | Unit:
        meta = task.problem.get("metadata") or {}
        test, entry = meta.get("test"), meta.get("entry_point")
        if not test or not entry:
            return GradeResult(task.key, "error", None,
                               "problem has no tests (metadata.test and metadata.entry_point)")
        program = build_program(task.problem.get("prompt") or "", task.completion, test, entry)
        # Equal programs (repeated samples) get one run: tests are deterministic.
        return Unit(hashlib.sha256(program.encode()).hexdigest(), program, None)

    def setup_worker(self) -> None:
        become_reaper()

    def run_unit(self, payload: Any) -> tuple[str, str | None]:
        result = run_python(payload, self.limits)
        if result.status == "start_failed":
            return "error", f"sandbox did not start: {result.output_tail}"
        if result.status == "timeout":
            return "timeout", f"over {self.limits.timeout_s:g} s"
        if result.status == "output_limit":
            return "incorrect", f"output over {self.limits.output_bytes} bytes"
        if result.finished:
            return "correct", None
        code = result.returncode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return "incorrect", _tail(f"killed by {name}\n{result.output_tail}")
        if code == 0:
            return "incorrect", _tail(f"exited before the tests finished\n{result.output_tail}")
        return "incorrect", _tail(result.output_tail) or f"exit code {code}"
