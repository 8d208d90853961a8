"""A pool of grading worker processes that survives crashes, hangs and repeated answers.

Workers are fresh interpreters (see ``worker``). The parent prepares tasks (cheap string work:
answer extraction, program assembly), merges tasks that need the same unit of work and reuses
verdicts from a cache; only distinct units go to the workers. Each worker grades in its main
thread (math-verify needs ``SIGALRM``) and reports every unit as it finishes, so when a worker
dies or overruns its hard timeout the parent knows which unit was responsible: that unit is
settled as ``error`` or ``timeout``, the rest of the worker's chunk goes back in the queue, and
a fresh worker takes its place.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from .base import Grader, GradeResult, GradeTask, Unit
from .registry import get_grader

_CACHE_SIZE = 200_000
_START_TIMEOUT_S = 120.0
#: Consecutive worker deaths without a single unit finished before the pool gives up.
_MAX_BARREN_RESTARTS = 5


def default_workers() -> int:
    """Worker processes to use by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _start_worker(grader_name: str, options: dict[str, Any]) -> tuple[Any, Connection]:
    parent_sock, child_sock = socket.socketpair()
    env = dict(os.environ)
    # The worker imports what this process can import, whatever way it was launched.
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reachscope.core.graders.worker", str(child_sock.fileno())],
            pass_fds=(child_sock.fileno(),), stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )
    finally:
        child_sock.close()
    conn = Connection(parent_sock.detach())
    conn.send((grader_name, options))
    return proc, conn


@dataclass
class _Batch:
    tasks: list[GradeTask]
    future: Future[list[GradeResult]]
    on_result: Callable[[GradeResult], None] | None
    results: list[GradeResult | None] = field(default_factory=list)
    remaining: int = 0
    #: Replaces the grader's ``prepare`` for this batch (answer comparisons).
    prepare: Callable[[GradeTask], GradeResult | Unit] | None = None


@dataclass
class _Pending:
    key: Hashable
    payload: Any
    waiters: list[tuple[_Batch, int, str | None]]


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    chunk: deque[int] = field(default_factory=deque)
    deadline: float = math.inf
    ready: bool = False


class GradingPool:
    """Grade tasks in worker processes.

    Use as a context manager::

        with GradingPool("math", workers=2) as pool:
            for result in pool.imap_unordered(tasks):
                ...

    Args:
        grader: ``math`` or ``code``.
        workers: worker processes (default: the usable CPUs).
        options: grader options (``answer_pattern``, ``last_number_fallback``, ``timeout``...).

    Raises:
        ValueError: unknown grader or bad options (raised here, before any worker starts).
    """

    def __init__(self, grader: str, workers: int | None = None,
                 options: Mapping[str, Any] | None = None) -> None:
        self._options = {k: v for k, v in dict(options or {}).items() if v is not None}
        self._grader: Grader = get_grader(grader, **self._options)
        self.grader_name: str = self._grader.name
        self.grader_version: str = self._grader.version
        self.workers = max(1, workers or default_workers())
        self._inbox: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._wake_r: Connection | None = None
        self._wake_w: Connection | None = None
        self._failure: BaseException | None = None
        self._cancel = False
        self._workers: list[_Worker] = []
        #: Units actually run by workers, and worker restarts (for reports and tests).
        self.units_run = 0
        self.restarts = 0

    # -- public -------------------------------------------------------------------------------

    def __enter__(self) -> GradingPool:
        self.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        # Leaving on an exception (Ctrl-C included) abandons the queued work instead of
        # finishing it.
        self.close(cancel=exc_type is not None)

    def start(self) -> None:
        """Start the dispatcher (workers start with it); idempotent."""
        with self._lock:
            if self._closed:
                raise RuntimeError("grading pool is closed")
            if self._thread is None:
                self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
                self._thread = threading.Thread(
                    target=self._dispatch, name=f"grading-pool-{self.grader_name}", daemon=True
                )
                self._thread.start()

    def close(self, cancel: bool = False) -> None:
        """Stop the workers and the dispatcher.

        Args:
            cancel: abandon queued work (its futures get ``CancelledError``) instead of
                finishing it first.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._cancel = cancel
            thread = self._thread
        if thread is not None:
            self._inbox.put(None)
            self._wake()
            thread.join(timeout=2.0 if cancel else None)

    def submit_batch(self, tasks: Iterable[GradeTask]) -> Future[list[GradeResult]]:
        """Queue tasks; the future gives their results in task order. Thread-safe, non-blocking."""
        return self._submit(list(tasks), None)

    def imap_unordered(self, tasks: Iterable[GradeTask], batch_size: int = 256,
                       max_pending: int = 16_384) -> Iterator[GradeResult]:
        """Grade tasks, yielding each result as soon as it is known (in no particular order).

        Args:
            tasks: any iterable; it is consumed lazily, keeping at most ``max_pending`` tasks
                in flight.
            batch_size: tasks handed to the dispatcher at a time.
            max_pending: bound on tasks submitted but not yet yielded.
        """
        out: queue.SimpleQueue[GradeResult | BaseException] = queue.SimpleQueue()
        it = iter(tasks)
        pending = 0
        exhausted = False
        while True:
            while not exhausted and pending < max_pending:
                batch = list(itertools.islice(it, batch_size))
                if not batch:
                    exhausted = True
                    break
                pending += len(batch)
                fut = self._submit(batch, out.put)
                fut.add_done_callback(
                    lambda f: out.put(f.exception()) if f.exception() else None  # type: ignore[arg-type]
                )
            if pending == 0:
                return
            item = out.get()
            if isinstance(item, BaseException):
                raise item
            pending -= 1
            yield item

    def same_answers(self, pairs: Iterable[tuple[str, str]]) -> list[bool]:
        """Whether each ``(first, answer)`` pair is the same answer under the grader's own
        equivalence (``Grader.prepare_same_answer``), in order; blocks until all are known.

        Comparisons that need sympy run in the workers like grading units (and share their
        cache); a comparison that times out or fails counts as different.
        """
        grader = self._grader

        def prepare(task: GradeTask) -> GradeResult | Unit:
            return grader.prepare_same_answer(task.key, task.reference or "", task.completion)

        tasks = [GradeTask(i, answer, first) for i, (first, answer) in enumerate(pairs)]
        results = self._submit(tasks, None, prepare).result()
        return [r.verdict == "correct" for r in results]

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (for monitoring; empty before they start)."""
        return [w.process.pid for w in self._workers]

    # -- parent side --------------------------------------------------------------------------

    def _submit(self, tasks: list[GradeTask],
                on_result: Callable[[GradeResult], None] | None,
                prepare: Callable[[GradeTask], GradeResult | Unit] | None = None,
                ) -> Future[list[GradeResult]]:
        fut: Future[list[GradeResult]] = Future()
        if not tasks:
            fut.set_result([])
            return fut
        self.start()
        if self._failure is not None:
            fut.set_exception(self._failure)
            return fut
        self._inbox.put(_Batch(tasks, fut, on_result, [None] * len(tasks), len(tasks), prepare))
        self._wake()
        return fut

    def _wake(self) -> None:
        assert self._wake_w is not None
        try:
            self._wake_w.send_bytes(b"")
        except OSError:
            pass

    # -- dispatcher thread --------------------------------------------------------------------

    def _dispatch(self) -> None:
        self._cache: OrderedDict[Hashable, tuple[str, str | None, str | None]] = OrderedDict()
        self._pending: dict[int, _Pending] = {}
        self._by_key: dict[Hashable, int] = {}
        self._queue: deque[int] = deque()
        self._uids = itertools.count()
        self._barren = 0
        pool: list[_Worker] = []
        stopping = False
        try:
            pool = self._workers = [self._spawn() for _ in range(self.workers)]
            while True:
                stopping = self._drain_inbox() or stopping
                if stopping and self._cancel:
                    self._fail_all(CancelledError())
                    break
                if stopping and not self._pending:
                    break
                self._assign(pool)
                self._wait(pool)
                self._enforce_deadlines(pool)
        except BaseException as exc:  # noqa: BLE001 - fail every waiting future instead of hanging
            self._failure = exc
            self._fail_all(exc)
        finally:
            # A cancelled pool kills its workers at once: one busy on a long unit would
            # otherwise hold the caller (a Ctrl-C) for its whole timeout.
            for w in pool:
                self._stop_worker(w, kill=self._cancel)
            assert self._wake_r is not None
            self._wake_r.close()

    def _spawn(self) -> _Worker:
        proc, conn = _start_worker(self.grader_name, self._options)
        # Starting (imports, setup) may take a while; a worker that never gets ready is killed.
        return _Worker(proc, conn, deadline=time.monotonic() + _START_TIMEOUT_S)

    def _stop_worker(self, w: _Worker, kill: bool = False) -> None:
        if not kill:
            try:
                w.conn.send(None)
                w.process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if w.process.poll() is None:
            w.process.kill()
            w.process.wait()
        w.conn.close()

    def _drain_inbox(self) -> bool:
        stop = False
        while True:
            try:
                batch = self._inbox.get_nowait()
            except queue.Empty:
                return stop
            if batch is None:
                stop = True
            else:
                self._accept(batch)

    def _accept(self, batch: _Batch) -> None:
        prepare = batch.prepare or self._grader.prepare
        for i, task in enumerate(batch.tasks):
            try:
                prepared = prepare(task)
            except Exception as exc:  # noqa: BLE001 - one bad task must not stop the batch
                prepared = GradeResult(task.key, "error", None, f"{type(exc).__name__}: {exc}")
            if isinstance(prepared, GradeResult):
                self._deliver(batch, i, prepared)
                continue
            self._route(batch, i, task.key, prepared)

    def _route(self, batch: _Batch, i: int, key: int, unit: Unit) -> None:
        cached = self._cache.get(unit.key)
        if cached is not None:
            self._cache.move_to_end(unit.key)
            answer = unit.answer if unit.answer is not None else cached[2]
            self._deliver(batch, i, GradeResult(key, cached[0], answer, cached[1]))
            return
        uid = self._by_key.get(unit.key)
        if uid is None:
            uid = next(self._uids)
            self._pending[uid] = _Pending(unit.key, unit.payload, [])
            self._by_key[unit.key] = uid
            self._queue.append(uid)
        self._pending[uid].waiters.append((batch, i, unit.answer))

    def _settle(self, uid: int, verdict: str, detail: str | None,
                found: str | None = None) -> None:
        # ``found``: the answer a worker extracted, for graders that extract there (math-verify).
        pending = self._pending.pop(uid, None)
        if pending is None:
            return
        del self._by_key[pending.key]
        if self._grader.cacheable(verdict):
            self._cache[pending.key] = (verdict, detail, found)
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        for batch, i, answer in pending.waiters:
            self._deliver(batch, i, GradeResult(batch.tasks[i].key, verdict,
                                                answer if answer is not None else found, detail))

    def _deliver(self, batch: _Batch, i: int, result: GradeResult) -> None:
        batch.results[i] = result
        batch.remaining -= 1
        if batch.on_result is not None:
            batch.on_result(result)
        if batch.remaining == 0:
            batch.future.set_result(batch.results)  # type: ignore[arg-type]

    def _assign(self, pool: list[_Worker]) -> None:
        idle = [w for w in pool if w.ready and not w.chunk]
        if not idle or not self._queue:
            return
        size = max(1, min(self._grader.max_chunk, math.ceil(len(self._queue) / (2 * len(pool)))))
        now = time.monotonic()
        for w in idle:
            if not self._queue:
                break
            chunk = [self._queue.popleft() for _ in range(min(size, len(self._queue)))]
            try:
                w.conn.send([(uid, self._pending[uid].payload) for uid in chunk])
            except OSError:
                self._queue.extendleft(reversed(chunk))
                continue  # the dead worker is noticed and replaced by _wait
            w.chunk.extend(chunk)
            w.deadline = now + self._grader.hard_timeout

    def _wait(self, pool: list[_Worker]) -> None:
        assert self._wake_r is not None
        timeout = max(0.0, min((w.deadline for w in pool), default=math.inf) - time.monotonic())
        handles: list[Any] = [self._wake_r, *(w.conn for w in pool)]
        ready = multiprocessing.connection.wait(handles, None if timeout == math.inf else timeout)
        if self._wake_r in ready:
            while self._wake_r.poll():
                self._wake_r.recv_bytes()
        for idx, w in enumerate(pool):
            if w.conn in ready:
                if not self._read(w):
                    pool[idx] = self._replace(w, "error", "grader worker died"
                                              + self._exit_note(w))

    def _read(self, w: _Worker) -> bool:
        """Take every message a worker has sent; False if it is gone."""
        try:
            while w.conn.poll():
                uid, verdict, detail, *found = w.conn.recv()
                if uid == "ready":
                    w.ready = True
                    w.deadline = math.inf
                    continue
                if w.chunk and w.chunk[0] == uid:
                    w.chunk.popleft()
                self.units_run += 1
                self._barren = 0
                self._settle(uid, verdict, detail, found[0] if found else None)
                w.deadline = time.monotonic() + self._grader.hard_timeout
        except (EOFError, OSError):
            return False
        return w.process.poll() is None

    @staticmethod
    def _exit_note(w: _Worker) -> str:
        try:
            code = w.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            return ""
        if code < 0:
            try:
                return f" ({signal.Signals(-code).name})"
            except ValueError:
                return f" (signal {-code})"
        return f" (exit code {code})"

    def _replace(self, w: _Worker, verdict: str, detail: str) -> _Worker:
        """Settle the unit a lost worker was on, requeue the rest, start a new worker."""
        if w.chunk:
            culprit = w.chunk.popleft()
            self._settle(culprit, verdict, detail)
            self._queue.extendleft(reversed(w.chunk))
            w.chunk.clear()
        else:
            self._barren += 1
        self._stop_worker(w, kill=True)
        self.restarts += 1
        if self._barren > _MAX_BARREN_RESTARTS:
            raise RuntimeError(f"grader workers keep dying before grading anything: {detail}")
        return self._spawn()

    def _enforce_deadlines(self, pool: list[_Worker]) -> None:
        now = time.monotonic()
        for idx, w in enumerate(pool):
            if not w.ready and now >= w.deadline:
                pool[idx] = self._replace(w, "error", "grader worker did not start")
            elif w.chunk and now >= w.deadline:
                self._read(w)  # results that arrived just in time still count
                if w.chunk and time.monotonic() >= w.deadline:
                    pool[idx] = self._replace(
                        w, "timeout", f"killed after {self._grader.hard_timeout:g} s"
                    )

    def _fail_all(self, exc: BaseException) -> None:
        batches = {id(b): b for p in self._pending.values() for b, _, _ in p.waiters}
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                batches[id(item)] = item
        for batch in batches.values():
            if not batch.future.done():
                batch.future.set_exception(exc)
        self._pending.clear()
