"""Run untrusted Python in a child process with limits, and clean up after it.

What is enforced by the operating system (for every run):

* a wall-clock timeout, after which the whole process group is killed (SIGKILL);
* resource limits set before the program runs: CPU seconds, address space, file size, open files, no
  core dumps, with hard limits equal to soft ones so the program cannot raise them;
* output capped: stdout and stderr share one pipe, and a program that writes more than
  ``output_bytes`` is killed;
* a fresh temporary directory as working directory, ``HOME`` and ``TMPDIR``, removed afterwards;
  ``python -I -S``: no environment variables, user site or site-packages;
* the child dies with the worker that started it (``PR_SET_PDEATHSIG``).

Programs are children of a per-worker fork server (:mod:`zygote`), which saves an interpreter
start per program; what the child inherits from it holds nothing secret.

When the grader runs as root (containers, CI images) it also:

* runs the program under its own unprivileged uid/gid (one per worker process), so it cannot
  signal other processes, and cannot read, write or delete files it does not own; a process
  limit (``RLIMIT_NPROC``) stops fork bombs, and afterwards every process of that uid is killed,
  including ones that left the process group with ``setsid``;
* puts it in a new network namespace with no interfaces up: no network at all.

Without root, there is no uid separation, no process-count limit beyond the user's own and no
network namespace; what remains is the guard prelude, a best-effort layer in Python that refuses
``fork``/``exec``/``kill``, sockets, and writes or deletions outside the temporary directory. It
stops accidents and naive hostile code, not a determined program (``ctypes`` bypasses it). Files
in world-writable places such as ``/tmp`` are writable in both modes, except through the prelude.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import select
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .guard import GUARD_SOURCE, HARNESS_SOURCE
from .zygote import SETUP_FAILED, SETUP_MARK, Job, Zygote, ZygoteLost

_PR_SET_DUMPABLE = 4
#: World-writable places that get a private, size-limited tmpfs in root mode.
PRIVATE_TMP = ("/tmp", "/dev/shm", "/var/tmp")
#: First uid used for sandboxed programs when running as root; each worker adds its pid.
SANDBOX_UID_BASE = 200_000
_TAIL_BYTES = 4096
#: The environment of every sandboxed program (``HOME`` and ``TMPDIR`` are added per run).
_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
#: How long the fork server may take to clean up after a program it was told to kill.
_CLEANUP_S = 10.0


@dataclass(frozen=True)
class Limits:
    """Limits of one sandboxed run.

    Attributes:
        timeout_s: wall-clock seconds before the process group is killed.
        memory_mb: address-space limit (``RLIMIT_AS``).
        output_bytes: combined stdout+stderr beyond which the program is killed.
        file_mb: largest file the program may write (``RLIMIT_FSIZE``).
        nproc: processes the sandbox uid may run (root mode only).
        guard: run the guard prelude (see the module docstring).
    """

    timeout_s: float = 5.0
    memory_mb: int = 1024
    output_bytes: int = 1 << 20
    file_mb: int = 16
    nproc: int = 32
    guard: bool = True


@dataclass
class RunResult:
    """What happened to a sandboxed program.

    Attributes:
        status: ``exited``, ``timeout``, ``output_limit``, ``disk_limit`` (the working
            directory holds more than ``file_mb`` in all) or ``start_failed``.
        returncode: exit code (negative: killed by that signal); None unless ``exited``.
        finished: the harness reached its end (the program did not exit early).
        output_tail: the last few KB of stdout+stderr, decoded.
        seconds: wall-clock duration.
    """

    status: str
    returncode: int | None
    finished: bool
    output_tail: str
    seconds: float


@dataclass(frozen=True)
class Mode:
    """How this process runs sandboxed programs.

    Attributes:
        python: the interpreter (stdlib only: it runs with ``-I -S``).
        uid: the unprivileged uid programs run as, or None (no root, or no interpreter that
            such a uid can execute).
    """

    python: str
    uid: int | None

    def describe(self) -> str:
        """One line on the isolation in force, for reports."""
        if self.uid is None:
            return (f"{self.python}; no uid separation (user + network namespace where allowed,"
                    " guard prelude, rlimits)")
        return (f"{self.python}; uid {self.uid}, new network and mount namespace (private"
                " /tmp, /dev/shm), rlimits")


_modes: dict[int, Mode] = {}
_warned = False


def warn_isolation() -> None:
    """Say once per process, on stderr, how isolated sandboxed programs are in this mode."""
    global _warned
    if _warned:
        return
    _warned = True
    mode = sandbox_mode()
    if mode.uid is None:
        print("reachscope: warning: not root, so code runs without its own uid or private /tmp:"
              " isolation is a user + network namespace where the kernel allows one, rlimits,"
              " a scrubbed environment and the Python guard; run as root (a container) to grade"
              " untrusted code", file=sys.stderr)


def sandbox_mode() -> Mode:
    """The sandbox mode of this process, probed once per process.

    As root, the first interpreter among ``sys.executable`` and the system ``python3`` that an
    unprivileged uid can run (with its standard library) is used under that uid; if none can,
    programs run without uid separation.
    """
    pid = os.getpid()
    if pid not in _modes:
        _modes[pid] = _probe_mode()
    return _modes[pid]


def _probe_mode() -> Mode:
    if os.geteuid() != 0:
        return Mode(sys.executable, None)
    uid = SANDBOX_UID_BASE + os.getpid()
    candidates = [sys.executable, *(shutil.which(n, path="/usr/local/bin:/usr/bin:/bin") or ""
                                    for n in ("python3",))]
    for python in dict.fromkeys(c for c in candidates if c):
        probe = Mode(python, uid)
        result = _run(probe, "import json, hashlib, collections, re\n", Limits(timeout_s=10))
        if result.finished:
            return probe
        _zygotes.pop((os.getpid(), python, uid)).stop()
    return Mode(sys.executable, None)


def _harness(guard: str) -> str:
    return HARNESS_SOURCE.replace("#GUARD\n", guard + "\n").replace(
        "GUARDED)", f"{bool(guard)})")


def harden_worker() -> None:
    """Make this worker non-dumpable: a program of the same uid can then neither ptrace it nor
    read its ``/proc/<pid>/environ``, ``mem`` or ``fd`` entries."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


_zygotes: dict[tuple[int, str, int | None], Zygote] = {}


def _zygote(mode: Mode, fresh: bool = False) -> Zygote:
    """This process's fork server for ``mode``, started on first use or when it died."""
    key = (os.getpid(), mode.python, mode.uid)
    zygote = _zygotes.get(key)
    if zygote is not None and (fresh or not zygote.alive()):
        zygote.stop()
        zygote = None
    if zygote is None:
        harness = (_harness(""), _harness(GUARD_SOURCE))
        zygote = Zygote(mode.python, harness, root=mode.uid is not None, env=dict(_ENV))
        _zygotes[key] = zygote
    return zygote


def run_python(source: str, limits: Limits = Limits(), tests: str | None = None) -> RunResult:
    """Run Python ``source`` in a sandboxed child process and report how it ended.

    Args:
        source: the program (for HumanEval: prompt + completion).
        limits: the limits to apply.
        tests: code run after ``source`` in the same globals, with the builtins restored to
            what they were before ``source`` ran (for HumanEval: tests + ``check(...)``).

    Returns:
        A :class:`RunResult`; ``finished`` is True only if the program (and the tests) ran to
        their end, as proved by the harness (see :data:`guard.HARNESS_SOURCE`).
    """
    return _run(sandbox_mode(), source, limits, tests)


def _run(mode: Mode, source: str, limits: Limits, tests: str | None = None) -> RunResult:
    uid = mode.uid
    scratch = Path(tempfile.mkdtemp(prefix="reachscope-sandbox-"))
    start = time.monotonic()
    try:
        (scratch / "solution.py").write_text(source, encoding="utf-8")
        if tests is not None:
            (scratch / "tests.py").write_text(tests, encoding="utf-8")
        if uid is not None:
            os.chown(scratch, uid, uid)
            os.chmod(scratch, 0o700)
        job = Job(scratch=str(scratch), uid=uid, guard=limits.guard,
                  cpu_s=int(limits.timeout_s) + 1, memory_bytes=limits.memory_mb << 20,
                  file_bytes=limits.file_mb << 20, tmp_mb=limits.file_mb, nproc=limits.nproc,
                  private_tmp=PRIVATE_TMP)
        nonce = secrets.token_hex(16)
        started = _start(mode, job, nonce)
        if isinstance(started, str):
            return RunResult("start_failed", None, False, started, time.monotonic() - start)
        zygote, pid, out_r = started
        status, output = _collect(out_r, zygote, limits, start)
        returncode: int | None = None
        try:
            if status != "exited":
                _killpg(pid)
            returncode = zygote.finish(_CLEANUP_S)
        except ZygoteLost:
            pass
        if status == "exited" and _disk_usage(scratch) > limits.file_mb * 1024 * 1024:
            status = "disk_limit"
        seconds = time.monotonic() - start
        tail = output[-_TAIL_BYTES:].decode("utf-8", "replace")
        if status == "exited" and returncode == SETUP_FAILED and SETUP_MARK in tail:
            return RunResult("start_failed", None, False, tail, seconds)
        finished = status == "exited" and returncode == 0 and f"\n{nonce}\n" in tail
        tail = tail.replace(f"\n{nonce}\n", "\n")
        return RunResult(status, returncode if status == "exited" else None, finished, tail,
                         seconds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _start(mode: Mode, job: Job, nonce: str) -> tuple[Zygote, int, int] | str:
    """Start ``job`` in the fork server: (server, child pid, output fd), or why it could not.

    The nonce travels on a pipe that only the child's harness reads, never in the environment
    (readable in /proc/self/environ). A fork server found dead is replaced once.
    """
    for attempt in range(2):
        nonce_r, nonce_w = os.pipe()
        os.write(nonce_w, nonce.encode())
        os.close(nonce_w)
        out_r, out_w = os.pipe()
        try:
            zygote = _zygote(mode, fresh=attempt > 0)
            return zygote, zygote.start(job, out_w, nonce_r), out_r
        except ZygoteLost as exc:
            os.close(out_r)
            if attempt:
                return f"the sandbox's fork server failed: {exc}"
        except OSError as exc:
            os.close(out_r)
            return str(exc)
        finally:
            os.close(out_w)
            os.close(nonce_r)
    raise AssertionError("unreachable")


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _disk_usage(root: Path) -> int:
    """Bytes in the files under ``root`` (RLIMIT_FSIZE bounds each file, this their total)."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def _collect(fd: int, zygote: Zygote, limits: Limits, start: float) -> tuple[str, bytes]:
    """Read output until the program ends, times out or writes too much.

    The program has ended when the fork server says so: its output pipe may close earlier
    (a program can close its stdout and keep running) or later (a child it left behind can hold
    the pipe until the server kills it).
    """
    os.set_blocking(fd, False)
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    poller.register(zygote.fileno(), select.POLLIN | select.POLLHUP)
    tail = bytearray()
    total = 0
    end = start + limits.timeout_s
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return "timeout", bytes(tail)
            events = poller.poll(left * 1000)
            for ready, _ in events:
                if ready != fd:
                    tail += _drain(fd)
                    return "exited", bytes(tail[-2 * _TAIL_BYTES:])
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue  # spurious wake-up
                if not data:  # every writer closed: wait for the server's word alone
                    poller.unregister(fd)
                    continue
                total += len(data)
                tail += data
                if len(tail) > 2 * _TAIL_BYTES:
                    del tail[: len(tail) - _TAIL_BYTES]
                if total > limits.output_bytes:
                    return "output_limit", bytes(tail)
    finally:
        os.close(fd)


def _drain(fd: int) -> bytes:
    """What is left in the pipe right now, without waiting (bounded by the tail kept)."""
    rest = bytearray()
    while True:
        try:
            data = os.read(fd, 65536)
        except (BlockingIOError, OSError):
            break
        if not data:
            break
        rest += data
        if len(rest) > 2 * _TAIL_BYTES:
            del rest[: len(rest) - _TAIL_BYTES]
    return bytes(rest)
