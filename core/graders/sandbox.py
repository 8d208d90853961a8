"""Run untrusted Python in a child process with limits, and clean up after it.

What is enforced by the operating system (for every run):

* a wall-clock timeout, after which the whole process group is killed (SIGKILL);
* resource limits set before ``exec``: CPU seconds, address space, file size, open files, no
  core dumps, with hard limits equal to soft ones so the program cannot raise them;
* output capped: stdout and stderr share one pipe, and a program that writes more than
  ``output_bytes`` is killed;
* a fresh temporary directory as working directory, ``HOME`` and ``TMPDIR``, removed afterwards;
  ``python -I -S``: no environment variables, user site or site-packages;
* the child dies with the worker that started it (``PR_SET_PDEATHSIG``).

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
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .guard import GUARD_SOURCE, HARNESS_SOURCE

_CLONE_NEWNET = 0x40000000
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 0x1000, 0x4000, 1 << 18
_PR_SET_DUMPABLE = 4
#: World-writable places that get a private, size-limited tmpfs in root mode.
PRIVATE_TMP = (b"/tmp", b"/dev/shm", b"/var/tmp")
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
#: First uid used for sandboxed programs when running as root; each worker adds its pid.
SANDBOX_UID_BASE = 200_000
_TAIL_BYTES = 4096


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
    return Mode(sys.executable, None)


def _harness(guard: str) -> str:
    return HARNESS_SOURCE.replace("#GUARD\n", guard + "\n").replace(
        "GUARDED)", f"{bool(guard)})")


def _child_setup(limits: Limits, uid: int | None, scratch: str) -> None:
    # Runs in the child between fork and exec: only async-signal-tolerant, allocation-light work.
    cpu = int(limits.timeout_s) + 1
    for res, value in (
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024),
        (resource.RLIMIT_FSIZE, limits.file_mb * 1024 * 1024),
        (resource.RLIMIT_NOFILE, 64),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(res, (value, value))
    libc = ctypes.CDLL(None, use_errno=True)
    if uid is not None:
        # A private mount namespace with empty, size-limited tmpfs over the world-writable
        # places: what the program writes there vanishes with it. The working directory (in
        # the real /tmp) was entered before this runs, so it stays reachable.
        if libc.unshare(_CLONE_NEWNET | _CLONE_NEWNS) == 0:
            libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None)
            size = b"size=%dm,mode=1777" % limits.file_mb
            for place in PRIVATE_TMP:
                libc.mount(b"tmpfs", place, b"tmpfs", _MS_NOSUID | _MS_NODEV, size)
            # The working directory lives in the real /tmp: bind it back at its own path in the
            # new one (through /proc/self/cwd, which still reaches it), so paths agree.
            os.makedirs(scratch, mode=0o700)
            libc.mount(b"/proc/self/cwd", os.fsencode(scratch), None, _MS_BIND, None)
            os.chdir(scratch)
        else:
            libc.unshare(_CLONE_NEWNET)  # best effort: if it fails the uid limits still apply
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.nproc, limits.nproc))
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    else:
        # ``unshare -Urn``: a user namespace (needs no privilege where the kernel allows it)
        # holding a network namespace with no interface up. Best effort.
        libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET)
    # After setuid, which clears it: the program dies with its worker.
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def kill_uid(uid: int) -> None:
    """Kill every process running as ``uid`` (root only): fork, drop to it, ``kill(-1)``."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.setgid(uid)
            os.setuid(uid)
            # kill(-1) reaches every process this uid may signal, that is, its own; repeated
            # until none is left, since a process forking meanwhile can escape one round.
            for _ in range(1000):
                os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


_reaper = False


def become_reaper() -> None:
    """Adopt orphaned descendants (``PR_SET_CHILD_SUBREAPER``) and reap them after each run.

    For worker processes that do nothing but run sandboxes: processes a program forked and left
    behind are then reaped here instead of lingering as zombies (which would count against the
    sandbox uid's process limit) where the system's init does not reap.
    """
    global _reaper
    libc = ctypes.CDLL(None, use_errno=True)
    _reaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    # Not dumpable: a program of the same uid can neither ptrace this worker nor read its
    # /proc/<pid>/environ, mem or fd entries.
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def _kill_all(proc: subprocess.Popen[bytes], uid: int | None) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if uid is not None:
        kill_uid(uid)
    proc.wait()
    while _reaper:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break


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
        nonce = secrets.token_hex(16)
        harness = _harness(GUARD_SOURCE if limits.guard else "")
        (scratch / "harness.py").write_text(harness, encoding="utf-8")
        (scratch / "solution.py").write_text(source, encoding="utf-8")
        if tests is not None:
            (scratch / "tests.py").write_text(tests, encoding="utf-8")
        if uid is not None:
            os.chown(scratch, uid, uid)
            os.chmod(scratch, 0o700)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(scratch),
            "TMPDIR": str(scratch),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
        }
        # The nonce travels on a pipe, never in the environment (readable in /proc/self/environ).
        nonce_r, nonce_w = os.pipe()
        os.write(nonce_w, nonce.encode())
        os.close(nonce_w)
        try:
            proc = subprocess.Popen(
                [mode.python, "-I", "-S", "-B", "harness.py", str(nonce_r)],
                pass_fds=(nonce_r,),
                cwd=scratch,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                preexec_fn=lambda: _child_setup(limits, uid, str(scratch)),  # noqa: PLW1509 - single-threaded worker
            )
        except (OSError, subprocess.SubprocessError) as exc:
            os.close(nonce_r)
            return RunResult("start_failed", None, False, str(exc), time.monotonic() - start)
        os.close(nonce_r)
        status, output = _collect(proc, limits, start)
        _kill_all(proc, uid)
        returncode = proc.wait()
        if status == "exited" and _disk_usage(scratch) > limits.file_mb * 1024 * 1024:
            status = "disk_limit"
        seconds = time.monotonic() - start
        tail = output[-_TAIL_BYTES:].decode("utf-8", "replace")
        finished = status == "exited" and returncode == 0 and f"\n{nonce}\n" in tail
        tail = tail.replace(f"\n{nonce}\n", "\n")
        return RunResult(status, returncode if status == "exited" else None, finished, tail,
                         seconds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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


def _collect(proc: subprocess.Popen[bytes], limits: Limits, start: float) -> tuple[str, bytes]:
    """Read output until the program exits, times out or writes too much."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    tail = bytearray()
    total = 0
    end = start + limits.timeout_s
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return "timeout", bytes(tail)
            events = poller.poll(min(left, 0.05) * 1000)
            if events:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue  # spurious wake-up
                if not data:  # every writer closed: the program (and its children) are done
                    proc.wait(timeout=max(end - time.monotonic(), 0.01))
                    return "exited", bytes(tail)
                total += len(data)
                tail += data
                if len(tail) > 2 * _TAIL_BYTES:
                    del tail[: len(tail) - _TAIL_BYTES]
                if total > limits.output_bytes:
                    return "output_limit", bytes(tail)
            elif proc.poll() is not None:
                # The program exited but a child it left behind holds the pipe open.
                return "exited", bytes(tail)
    except subprocess.TimeoutExpired:
        return "timeout", bytes(tail)
    finally:
        proc.stdout.close()
