"""The writer thread of a sampling run: sample batches in, grades back, one connection.

Completed requests queue here; every ``batch_size`` samples or ``flush_s`` seconds they are
written in one transaction (``INSERT OR IGNORE`` on run, problem, sample index), then handed to
the grading pool, whose verdicts return through the same queue. Only this thread touches the
database while it runs, so the sampler never waits on SQLite and a viewer sees counts grow.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from concurrent.futures import Future
from typing import Any

import sqlite_utils
from reachscope.store import GradeIn, ProblemIn, SampleIn
from reachscope.store import samples as store_samples
from reachscope.store import scores as store_scores
from reachscope.store.grades import write_grades
from reachscope.store.runs import STALE_AFTER_S, run_state, update_run  # noqa: F401 - re-exported
from reachscope.store.samples import write_samples

from .backends import RequestResult

#: Seconds between heartbeats of a live writer (the run's ``updated_at`` is set again).
HEARTBEAT_S = 10.0


def writer_identity() -> dict[str, Any]:
    """What a run stores about the process writing it (``provenance["writer"]``)."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


class SampleWriter(threading.Thread):
    """Owns database writes during a run: sample batches and the grades that come back.

    Args:
        db: the run's database; only this thread uses it until :meth:`finish` returns.
        run_id: the run written to.
        pool: a started grading pool, or None to store samples ungraded.
        problems: problem id -> problem (references and metadata for the graders).
        batch_size: samples per transaction.
        flush_s: longest a completed sample waits before it is written.
        scorer_id: the run's own scorer (``sample --logprobs``): completions that carry
            log-probabilities are scored under it in the transaction that writes them.
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        run_id: int,
        pool: Any,
        problems: dict[int, ProblemIn],
        batch_size: int = 256,
        flush_s: float = 2.0,
        scorer_id: int | None = None,
    ) -> None:
        super().__init__(name="sample-writer", daemon=True)
        self.db = db
        self.run_id = run_id
        self.pool = pool
        self.problem_of = problems
        self.batch_size = batch_size
        self.flush_s = flush_s
        self.scorer_id = scorer_id
        #: Samples inserted and grades written so far.
        self.written = 0
        self.graded = 0
        #: Grading batches that failed (the pool gave up on them), and their samples: they stay
        #: stored ungraded, and ``reachscope grade`` (or the next run) grades them.
        self.grade_failed_batches = 0
        self.grade_failed_samples = 0
        self.grade_errors: list[str] = []
        #: Samples whose grades were still pending when the writer stopped without waiting.
        self.grade_abandoned = 0
        self.inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        #: Submitted grading batches not yet written -> their number of samples.
        self.pending: dict[Future[Any], int] = {}
        self.lock = threading.Lock()
        self.failure: BaseException | None = None
        #: Set to stop waiting for outstanding grades (Ctrl-C during :meth:`finish`).
        self.abandon = threading.Event()

    def put(self, result: RequestResult) -> None:
        """Queue a completed request for the next batch."""
        if self.failure is not None:
            raise self.failure
        self.inbox.put(("result", result))

    def grade_backlog(self) -> None:
        """Queue the run's stored samples that the grader has not graded (from earlier runs)."""
        if self.pool is not None:
            self.inbox.put(("backlog", None))

    def sync(self) -> None:
        """Return once everything queued so far is written."""
        done = threading.Event()
        self.inbox.put(("sync", done))
        while not done.wait(0.1):
            if not self.is_alive():
                break
        if self.failure is not None:
            raise self.failure

    def finish(self, wait_grades: bool) -> None:
        """Write what is queued, then (optionally) wait for outstanding grades; stop.

        A ``KeyboardInterrupt`` while waiting for grades stops the wait at once (the grades
        already back are written, the rest stay pending for a later grading) and is re-raised.
        """
        self.inbox.put(("stop", wait_grades))
        try:
            while self.is_alive():
                self.join(0.1)
        except KeyboardInterrupt:
            self.abandon.set()
            self.inbox.put(("wake", None))
            self.join()
            raise
        if self.failure is not None:
            raise self.failure

    def run(self) -> None:
        batch: list[RequestResult] = []
        size = 0
        deadline = time.monotonic() + self.flush_s
        next_beat = time.monotonic() + HEARTBEAT_S
        try:
            while True:
                if time.monotonic() >= next_beat:  # the run's writer is alive
                    with self.db.atomic():
                        update_run(self.db, self.run_id)
                    next_beat = time.monotonic() + HEARTBEAT_S
                try:
                    kind, item = self.inbox.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    kind, item = "tick", None
                if kind == "result":
                    batch.append(item)
                    size += len(item.completions)
                elif kind == "grades":
                    self._write_grades(item)
                elif kind == "backlog":
                    self._grade_backlog()
                if batch and (size >= self.batch_size or kind in ("tick", "stop", "sync")
                              or time.monotonic() >= deadline):
                    self._write(batch)
                    batch, size = [], 0
                if kind == "sync":
                    item.set()
                if kind == "tick" or time.monotonic() >= deadline:
                    deadline = time.monotonic() + self.flush_s
                if kind == "stop":
                    self._drain_grades(wait=bool(item))
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.failure = exc

    def _write(self, batch: list[RequestResult]) -> None:
        rows = []
        for result in batch:
            req = result.request
            for i, c in enumerate(result.completions):
                rows.append(
                    SampleIn(
                        problem_id=req.key,
                        sample_idx=req.start + i,
                        text=c.text,
                        n_tokens=c.n_tokens,
                        finish_reason=c.finish_reason,
                        seed=None if req.seed is None else req.seed + i,
                        latency_s=result.latency_s,
                    )
                )
        with self.db.atomic():
            inserted = write_samples(self.db, self.run_id, rows)
            if self.scorer_id is not None:
                store_scores.write_generated_scores(self.db, self.run_id, self.scorer_id, [
                    (r.request.key, r.request.start + i, c.text, c.logprobs.n_tokens,
                     c.logprobs.sum_logprob, c.logprobs.mean_entropy)
                    for r in batch for i, c in enumerate(r.completions) if c.logprobs])
            tasks = self._tasks_for(batch) if self.pool is not None else []
        self.written += inserted
        if tasks:
            self._submit(tasks)

    def _tasks_for(self, batch: list[RequestResult]) -> list[Any]:
        from .graders import GradeTask

        tasks = []
        for result in batch:
            req = result.request
            problem = self.problem_of[req.key]
            for sid, text in store_samples.sample_texts_in_range(
                self.db, self.run_id, req.key, req.start, req.start + req.n - 1
            ):
                tasks.append(GradeTask(key=sid, completion=text, reference=problem.answer,
                                       problem={"prompt": problem.prompt,
                                                "metadata": problem.metadata}))
        return tasks

    def _grade_backlog(self) -> None:
        from .graders import GradeTask

        last = 0
        while True:
            rows = store_samples.ungraded_samples(
                self.db, self.run_id, self.pool.grader_name, after=last
            )
            if not rows:
                return
            tasks = []
            for sid, text, pid in rows:
                problem = self.problem_of.get(pid)
                if problem is not None:
                    tasks.append(GradeTask(key=sid, completion=text, reference=problem.answer,
                                           problem={"prompt": problem.prompt,
                                                    "metadata": problem.metadata}))
            if tasks:
                self._submit(tasks)
            last = int(rows[-1][0])

    def _submit(self, tasks: list[Any]) -> None:
        fut = self.pool.submit_batch(tasks)
        with self.lock:
            self.pending[fut] = len(tasks)
        fut.add_done_callback(lambda f: self.inbox.put(("grades", f)))

    def _write_grades(self, fut: Future[Any]) -> None:
        with self.lock:
            size = self.pending.pop(fut, 0)
        if fut.cancelled():
            self.grade_abandoned += size
            return  # left ungraded; the next run (or `reachscope grade`) grades them
        exc = fut.exception()
        if exc is not None:
            # Recorded, never dropped silently: the samples stay ungraded for a later grading.
            self.grade_failed_batches += 1
            self.grade_failed_samples += size
            message = f"grading a batch of {size} samples failed: {type(exc).__name__}: {exc}"
            if message not in self.grade_errors and len(self.grade_errors) < 20:
                self.grade_errors.append(message)
            return
        name, version = self.pool.grader_name, self.pool.grader_version
        grades = [GradeIn(r.key, name, r.verdict, r.answer, r.detail, version)
                  for r in fut.result()]
        with self.db.atomic():
            write_grades(self.db, grades)
        self.graded += len(grades)

    def _drain_grades(self, wait: bool) -> None:
        """Write the grades that come back; without ``wait``, only those already back."""
        while True:
            with self.lock:
                if not self.pending:
                    break
            try:
                if wait and not self.abandon.is_set():
                    kind, item = self.inbox.get(timeout=3600.0)
                else:
                    kind, item = self.inbox.get_nowait()
            except queue.Empty:
                break
            if kind == "grades":
                self._write_grades(item)
        with self.lock:
            self.grade_abandoned += sum(self.pending.values())
            self.pending.clear()
