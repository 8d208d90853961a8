"""What every grader shares: tasks, results, the grader interface and a per-call deadline."""

from __future__ import annotations

import resource
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

#: The verdicts a grader may return (the store accepts exactly these).
VERDICTS = ("correct", "incorrect", "no_answer", "timeout", "error")


@dataclass
class GradeTask:
    """One completion to grade.

    Attributes:
        key: the caller's identifier, returned on the result (a sample id, for instance).
        completion: the model's text.
        reference: the reference answer (math); None for code, whose tests live in ``problem``.
        problem: ``{"prompt": ..., "metadata": {...}}``; code tests are
            ``metadata["test"]`` and ``metadata["entry_point"]``.
    """

    key: int
    completion: str
    reference: str | None = None
    problem: dict[str, Any] = field(default_factory=dict)


@dataclass
class GradeResult:
    """A grader's verdict on one task.

    Attributes:
        key: the task's key.
        verdict: one of ``correct``, ``incorrect``, ``no_answer``, ``timeout``, ``error``.
        answer: the extracted answer (math), if any.
        detail: why, when the verdict needs explaining (the tail of stderr, a timeout).
    """

    key: int
    verdict: str
    answer: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Unit:
    """Work a task needs from a worker process.

    Tasks with equal ``key`` share one unit (samples of a problem repeat answers), so ``key``
    must capture everything the verdict depends on.
    """

    key: Hashable
    payload: Any
    answer: str | None = None


class GradingTimeout(BaseException):
    """Raised by :func:`deadline` in the grading thread.

    A BaseException so that libraries that catch ``Exception`` (math-verify and sympy do) cannot
    swallow it and turn a timeout into a wrong answer.
    """


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`GradingTimeout` in the block after ``seconds`` of wall-clock time.

    Uses ``SIGALRM`` (an interval timer), so it only works in the main thread of the main
    interpreter; elsewhere, or with ``seconds`` None or <= 0, the block runs without limit. Time
    spent inside one long C call is only interrupted when that call returns, which is why pools
    also kill workers that overrun.
    """
    if not seconds or seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise GradingTimeout(f"over {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def limit_address_space(memory_mb: int) -> None:
    """Cap this worker process's address space at ``memory_mb`` MiB (0: leave it as it is).

    A pathological answer can make sympy allocate without bound; the cap turns that into a
    MemoryError in the worker rather than a machine out of memory. A lower hard limit is kept.
    """
    if memory_mb <= 0:
        return
    limit = memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard >= limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class Grader(ABC):
    """A grading method, split between the parent process and worker processes.

    ``prepare`` runs in the parent (any thread): it must be cheap and never hang. It either
    settles a task at once (no answer, a string-level match) or names the :class:`Unit` of work
    a worker must do. ``run_unit`` runs in a worker's main thread and may take time.
    """

    #: Stable name stored with every grade (``math``, ``code``).
    name: str = ""
    #: Changes whenever verdicts may change; stored next to the name.
    version: str = ""
    #: Seconds after which the pool kills a worker stuck on one unit.
    hard_timeout: float = 30.0
    #: Most units sent to a worker in one message.
    max_chunk: int = 16

    @abstractmethod
    def prepare(self, task: GradeTask) -> GradeResult | Unit:
        """Settle a task now, or return the unit of work it needs."""

    @abstractmethod
    def run_unit(self, payload: Any) -> tuple[Any, ...]:
        """Do one unit of work in a worker; returns ``(verdict, detail)``, or
        ``(verdict, detail, answer)`` from a grader that extracts the answer in the worker."""

    def setup_worker(self) -> None:  # noqa: B027 (optional hook)
        """Prepare a fresh worker process (limits, imports); called once per worker."""

    def cacheable(self, verdict: str) -> bool:
        """Whether a unit's verdict may be reused for an equal unit later."""
        return verdict in ("correct", "incorrect")

    def prepare_same_answer(self, key: int, first: str, answer: str) -> GradeResult | Unit:
        """Whether two extracted answers are the same answer under this grader's equivalence,
        as `prepare` does for a completion: settled now (verdict ``correct`` means the same) or
        a unit for a worker's `run_unit`. Used to cluster answers (``first`` is the cluster's
        first member); graders registered with ``same_answer`` implement it.
        """
        raise NotImplementedError(f"grader {self.name!r} has no answer equivalence")
