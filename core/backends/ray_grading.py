"""Grading on a Ray cluster (``sample --backend ray --grade-on-cluster``).

A small pool of Ray actors, each holding the ordinary :class:`~reachscope.core.graders.GradingPool`
in its own process: the same graders, run by the same worker processes with the same hard
timeouts, sandbox and crash handling as on the driver (math-verify needs its worker's main
thread, which a Ray actor's method threads are not, so the actor never grades in itself).
:class:`ClusterGradingPool` gives the driver the pool interface the sample writer uses
(``submit_batch``, ``same_answers``, ``close``, ``grader_name``, ``grader_version``), so the
driver still writes every grade, one transaction per batch, through the same store writes.
A batch is sent to one actor once and never retried: a lost actor fails its batches, whose
samples stay ungraded for the next run (or ``reachscope grade``).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, InvalidStateError
from typing import Any

from ..graders import GradeResult, GradeTask, GradingPool, get_grader

#: Batches one actor accepts at a time (its pool grades them together).
_ACTOR_CONCURRENCY = 4


class _GradingActor:
    """Runs inside a Ray actor's process: a local grading pool of ``workers`` processes."""

    def __init__(self, grader: str, workers: int | None, options: dict[str, Any]) -> None:
        self.pool = GradingPool(grader, workers=workers, options=options)
        self.pool.start()

    def grade(self, tasks: list[GradeTask]) -> list[GradeResult]:
        """Grade one batch (results in task order)."""
        return self.pool.submit_batch(tasks).result()

    def same_answers(self, pairs: list[tuple[str, str]]) -> list[bool]:
        """The pool's answer equivalence (answer clustering)."""
        return self.pool.same_answers(pairs)

    def close(self) -> None:
        """Stop the pool's workers."""
        self.pool.close()


class ClusterGradingPool:
    """Grade on Ray actors, with the interface of :class:`GradingPool` the driver uses.

    Args:
        ray: the imported, initialised ``ray`` module.
        grader: grader name.
        workers: grading processes per actor (default: the CPUs of the actor's node).
        options: grader options.
        actors: Ray actors to spread batches over.
        owns_ray: shut Ray down on :meth:`close` (the pool started it).

    Raises:
        ValueError: unknown grader or bad options (before any actor starts).
    """

    def __init__(self, ray: Any, grader: str, workers: int | None = None,
                 options: Mapping[str, Any] | None = None, actors: int = 1,
                 owns_ray: bool = False) -> None:
        self._options = {k: v for k, v in dict(options or {}).items() if v is not None}
        local = get_grader(grader, **self._options)  # bad options fail here, on the driver
        self.grader_name: str = local.name
        self.grader_version: str = local.version
        self._ray = ray
        self._owns_ray = owns_ray
        # No CPUs reserved: the actor waits on its pool's processes, which Ray does not
        # schedule, and a reservation would compete with Ray Data's tasks on a small cluster.
        remote = ray.remote(num_cpus=0, max_concurrency=_ACTOR_CONCURRENCY)(_GradingActor)
        self._actors = [remote.remote(grader, workers, self._options)
                        for _ in range(max(1, actors))]
        self._next = itertools.cycle(self._actors)
        self._lock = threading.Lock()
        self._pending: set[Future[list[GradeResult]]] = set()
        self._closed = False

    def __enter__(self) -> ClusterGradingPool:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(cancel=exc_type is not None)

    def submit_batch(self, tasks: Iterable[GradeTask]) -> Future[list[GradeResult]]:
        """Send one batch to the next actor; the future gives its results in task order."""
        batch = list(tasks)
        fut: Future[list[GradeResult]] = Future()
        if not batch:
            fut.set_result([])
            return fut
        with self._lock:
            if self._closed:
                raise RuntimeError("cluster grading pool is closed")
            self._pending.add(fut)
            ref = next(self._next).grade.remote(batch)
        ref.future().add_done_callback(lambda done: self._settle(fut, done))
        return fut

    def _settle(self, fut: Future[list[GradeResult]], done: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(fut)
        try:
            exc = done.exception()
            if exc is None:
                fut.set_result(list(done.result()))
            else:
                fut.set_exception(exc)
        except InvalidStateError:  # cancelled by close(cancel=True): left ungraded
            pass

    def same_answers(self, pairs: Iterable[tuple[str, str]]) -> list[bool]:
        """Whether each ``(first, answer)`` pair is the same answer (blocks until known)."""
        items = list(pairs)
        if not items:
            return []
        return list(self._ray.get(next(self._next).same_answers.remote(items)))

    def close(self, cancel: bool = False) -> None:
        """Stop the actors; with ``cancel``, abandon unfinished batches instead of waiting."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = list(self._pending)
        for fut in pending:
            if cancel:
                fut.cancel()
            else:
                try:
                    fut.exception()  # wait; a failure is the writer's to record
                except BaseException:  # noqa: BLE001 - cancelled meanwhile
                    pass
        if not cancel:
            try:
                self._ray.get([a.close.remote() for a in self._actors], timeout=30)
            except Exception:  # noqa: BLE001 - the actors are killed below anyway
                pass
        for actor in self._actors:
            self._ray.kill(actor)
        if self._owns_ray:
            self._ray.shutdown()
