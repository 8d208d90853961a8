"""HumanEval-style code grading: prompt + completion + tests, run in the sandbox."""

from __future__ import annotations

import hashlib
import re
import signal
from typing import Any

from .base import Grader, GradeResult, GradeTask, Unit
from .sandbox import Limits, harden_worker, run_python, warn_isolation

#: Bump when program assembly or verdict rules change.
CODE_GRADER_REVISION = "2"
_DETAIL_CHARS = 1000


#: Wraps the candidate for ``strict_types``: each call also runs the reference solution (in
#: its own namespace, on copies of the arguments) and fails unless the result has the same
#: type, recursively through lists, tuples, sets and dicts. It stops a returned object whose
#: ``__eq__`` always answers True, which the official harness (and plain ``==``) accepts.
_STRICT = r'''
def _reachscope_strict(candidate, reference_source, entry_point):
    import copy
    namespace = {"__name__": "__reference__"}
    exec(reference_source, namespace)
    reference = namespace[entry_point]

    def same(got, want):
        if type(got) is not type(want):
            return False
        if type(want) in (list, tuple):
            return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
        if type(want) is dict:
            return len(got) == len(want) and all(
                type(k) in (int, str, float, bool, tuple) and k in want and same(v, want[k])
                for k, v in dict.items(got))
        if type(want) in (set, frozenset):
            return all(type(g) in (int, str, float, bool, tuple, type(None)) for g in got)
        return True

    def strict(*args, **kwargs):
        want = reference(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        got = candidate(*args, **kwargs)
        if not same(got, want):
            raise AssertionError("strict_types: result of type " + type(got).__name__
                                 + ", the reference solution returns " + type(want).__name__)
        return got

    return strict
'''


def build_parts(prompt: str, completion: str, test: str, entry_point: str,
                reference: str | None = None) -> tuple[str, str]:
    """The two halves of the check: (prompt + completion, tests + ``check(entry)``).

    They run in one namespace, as the official HumanEval harness's single program
    ``prompt + completion + "\\n" + test + "\\n" + "check(entry)"`` does, but the sandbox
    restores the builtins between them, so a completion cannot rebind what the tests call.
    A completion that defines the entry point itself (chat models often repeat the whole
    function) is appended after the prompt instead of continuing it, so the prompt's imports
    and helpers stay available and the completion's definition wins.
    """
    if re.search(rf"^def {re.escape(entry_point)}\s*\(", completion, re.MULTILINE):
        body = prompt + "\n" + completion
    else:
        body = prompt + completion
    if reference is None:
        return body, f"\n{test}\n\ncheck({entry_point})\n"
    wrapped = f"_reachscope_strict({entry_point}, {prompt + reference!r}, {entry_point!r})"
    return body, f"{_STRICT}\n{test}\n\ncheck({wrapped})\n"


def build_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The whole program that checks a completion, as one text (see :func:`build_parts`)."""
    body, tests = build_parts(prompt, completion, test, entry_point)
    return f"{body}\n{tests}"


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
        strict_types: also require each result to have the type of the canonical solution's
            result on the same arguments, where the problem ships one (opt-in; off matches the
            official harness, which accepts an object whose ``__eq__`` always returns True).
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
        strict_types: bool = False,
    ) -> None:
        self.limits = Limits(
            timeout_s=float(timeout), memory_mb=int(memory_mb), output_bytes=int(output_bytes),
            nproc=int(nproc), guard=bool(guard),
        )
        self.hard_timeout = self.limits.timeout_s + float(kill_after)
        self.strict_types = bool(strict_types)
        self.version = CODE_GRADER_REVISION + ("-strict" if self.strict_types else "")
        self._warned = False

    def prepare(self, task: GradeTask) -> GradeResult | Unit:
        meta = task.problem.get("metadata") or {}
        test, entry = meta.get("test"), meta.get("entry_point")
        if not test or not entry:
            return GradeResult(task.key, "error", None,
                               "problem has no tests (metadata.test and metadata.entry_point)")
        if not self._warned:
            self._warned = True
            warn_isolation()
        reference = meta.get("canonical_solution") if self.strict_types else None
        parts = build_parts(task.problem.get("prompt") or "", task.completion, test, entry,
                            reference)
        # Equal programs (repeated samples) get one run: tests are deterministic.
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        return Unit(digest, parts, None)

    def setup_worker(self) -> None:
        harden_worker()

    def run_unit(self, payload: Any) -> tuple[str, str | None]:
        source, tests = payload
        result = run_python(source, self.limits, tests)
        if result.status == "start_failed":
            return "error", f"sandbox did not start: {result.output_tail}"
        if result.status == "timeout":
            return "timeout", f"over {self.limits.timeout_s:g} s"
        if result.status == "disk_limit":
            return "incorrect", f"wrote over {self.limits.file_mb} MB of files"
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
