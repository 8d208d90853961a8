"""Entry point of a grading worker process: ``python -m reachscope.core.graders.worker FD NAME``.

Workers are fresh interpreters started with ``subprocess`` rather than ``multiprocessing``, so a
pool works the same from scripts without a ``__main__`` guard, notebooks and threads. The
grader options arrive as the first message on the connection.
"""

from __future__ import annotations

import signal
import sys
from multiprocessing.connection import Connection

from .base import GradingTimeout
from .registry import get_grader


def serve(conn: Connection) -> None:
    """Grade chunks of units from ``conn``, sending ``(uid, verdict, detail, answer)`` per unit.

    ``answer`` is the answer the grader extracted in the worker, or None (most graders extract
    in the parent).
    """
    grader_name, options = conn.recv()
    grader = get_grader(grader_name, **options)
    grader.setup_worker()
    conn.send(("ready", None, None))
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for uid, payload in chunk:
            answer = None
            try:
                verdict, detail, *found = grader.run_unit(payload)
                answer = found[0] if found else None
            except GradingTimeout as exc:
                verdict, detail = "timeout", str(exc)
            except MemoryError:
                verdict, detail = "error", "out of memory"
            except Exception as exc:  # noqa: BLE001 - reported as the verdict
                verdict, detail = "error", f"{type(exc).__name__}: {exc}"[:500]
            try:
                conn.send((uid, verdict, detail, answer))
            except OSError:
                return


def main() -> None:
    """Run a worker on the connection whose file descriptor is ``argv[1]``."""
    # Ctrl-C is the parent's business: it stops the workers by closing their connections.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(int(sys.argv[1]))
    try:
        serve(conn)
    finally:
        conn.close()


if __name__ == "__main__":
    main()
