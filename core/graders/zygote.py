"""A fork server for sandboxed programs: start the interpreter once, fork it for each program.

Starting ``python -I -S`` costs about 20 ms, as much as everything else a sandboxed run does,
so each worker keeps one *zygote*: a small interpreter (the sandbox's, stdlib only) that waits on
a socket, forks a child per program and reports how the child ended. The child sets up its
limits and isolation exactly as a freshly started interpreter would have (see :mod:`sandbox`),
then runs the harness, from a module namespace of its own, and exits through the interpreter's
normal shutdown. What the child inherits from the zygote holds nothing secret: the proof that
the tests ran arrives afterwards, on a pipe only the child's harness reads.

Namespaces that never change between programs are entered once, by the zygote: a network
namespace with no interface up (as root), or a user + network namespace (without root, where
the kernel allows unprivileged ones). Per program, as root, the child enters its own mount
namespace (private tmpfs over the world-writable places) and drops to the sandbox uid; without
root it drops every capability it holds in the zygote's user namespace. Afterwards the zygote
kills the program's process group and, as root, every process of the sandbox uid.

The protocol, over a ``SOCK_SEQPACKET`` socket pair: the worker sends one JSON job with two
descriptors (the write end of the output pipe, the read end of the nonce pipe); the zygote
answers ``pid N`` once the child runs (or ``fail MESSAGE``), then ``exit RC`` once it ended and
everything it left behind is gone.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from dataclasses import dataclass

#: Exit status of a child whose set-up failed before the program ran.
SETUP_FAILED = 125
SETUP_MARK = "reachscope-sandbox: setup failed: "

ZYGOTE_SOURCE = r'''
import os, sys

def _serve(ctl_fd, harness_texts):
    import ctypes, json, signal, socket
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER: orphans come back here
    libc.prctl(4, 0, 0, 0, 0)    # PR_SET_DUMPABLE 0: no ptrace of the zygote
    codes = [compile(text, "harness.py", "exec") for text in harness_texts]
    ctl = socket.socket(fileno=ctl_fd)

    def reap():
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    return
            except ChildProcessError:
                return

    def kill_uid(uid):
        killer = os.fork()
        if killer == 0:
            try:
                os.setgid(uid)
                os.setuid(uid)
                for _ in range(4):
                    os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            finally:
                os._exit(0)
        os.waitpid(killer, 0)

    while True:
        try:
            data, fds, _, _ = socket.recv_fds(ctl, 1 << 16, 2)
        except OSError:
            os._exit(0)
        if not data:
            os._exit(0)  # the worker is gone
        job = json.loads(data)
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            ctl.send(b"fail " + str(exc).encode())
            continue
        if pid == 0:
            ctl.close()
            return job, fds, codes[1 if job["guard"] else 0], libc
        for fd in fds:
            os.close(fd)
        ctl.send(b"pid %d" % pid)
        _, status = os.waitpid(pid, 0)
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        reap()
        if job["uid"] is not None:
            kill_uid(job["uid"])
            reap()
        ctl.send(b"exit %d" % os.waitstatus_to_exitcode(status))


def _child(job, fds, code, libc):
    import builtins, ctypes, resource, signal, types
    out, nonce = fds
    try:
        os.setsid()
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.closerange(3, nonce)
        os.closerange(nonce + 1, 1 << 16)
        os.chdir(job["scratch"])
        for res, value in (
            (resource.RLIMIT_CPU, job["cpu_s"]),
            (resource.RLIMIT_AS, job["memory_bytes"]),
            (resource.RLIMIT_FSIZE, job["file_bytes"]),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(res, (value, value))
        uid = job["uid"]
        if uid is not None:
            scratch = os.fsencode(job["scratch"])
            # A private mount namespace (where the kernel lets root have one: not in every
            # container) with empty, size-limited tmpfs over the world-writable places.
            if libc.unshare(0x00020000) == 0:  # CLONE_NEWNS
                libc.mount(b"none", b"/", None, 0x4000 | (1 << 18), None)  # MS_REC|MS_PRIVATE
                size = b"size=%dm,mode=1777" % job["tmp_mb"]
                for place in job["private_tmp"]:
                    libc.mount(b"tmpfs", os.fsencode(place), b"tmpfs", 2 | 4, size)  # NOSUID|NODEV
                # The working directory lives in the real /tmp: bind it back at its own path
                # in the new one (through /proc/self/cwd, which still reaches it).
                os.makedirs(scratch, mode=0o700)
                libc.mount(b"/proc/self/cwd", scratch, None, 0x1000, None)  # MS_BIND
                os.chdir(scratch)
            resource.setrlimit(resource.RLIMIT_NPROC, (job["nproc"], job["nproc"]))
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

        class Header(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        class Data(ctypes.Structure):
            _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                        ("inheritable", ctypes.c_uint32)]

        # No capability left, in the zygote's user namespace either (a fork keeps them where
        # an exec would have dropped them), and none to be gained.
        if libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()) != 0:
            raise OSError(ctypes.get_errno(), "capset")
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the zygote
        if os.getppid() == 1:
            os._exit(1)
    except BaseException as exc:
        os.write(2, ("''' + SETUP_MARK + r'''" + repr(exc) + "\n").encode())
        os._exit(''' + str(SETUP_FAILED) + r''')
    os.environ["HOME"] = os.environ["TMPDIR"] = job["scratch"]
    for name in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
        del sys.modules[name]
    sys.argv = ["harness.py", str(nonce)]
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    return code, main.__dict__


_job = _serve(int(sys.argv[1]), sys.argv[2:4])
_code, _namespace = _child(*_job)
del _job, _serve, _child
exec(_code, _namespace)
# The harness returned: end as the interpreter would (exit handlers, flushed streams, status
# 0) without tearing down every module the zygote and the program imported.
del _code, _namespace
import atexit
atexit._run_exitfuncs()
try:
    sys.stdout.flush()
    sys.stderr.flush()
except BaseException:
    os._exit(120)
os._exit(0)
'''


class ZygoteLost(Exception):
    """The fork server died or stopped answering."""


@dataclass
class Job:
    """One program for the zygote to run (the sandbox's limits, already in bytes and seconds)."""

    scratch: str
    uid: int | None
    guard: bool
    cpu_s: int
    memory_bytes: int
    file_bytes: int
    tmp_mb: int
    nproc: int
    private_tmp: tuple[str, ...]


class Zygote:
    """The worker's end of one fork server (see the module docstring)."""

    def __init__(self, python: str, harness_texts: tuple[str, str], root: bool,
                 env: dict[str, str]) -> None:
        """Start ``python -I -S`` as a fork server; ``harness_texts`` is (unguarded, guarded)."""
        import ctypes

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        flags = 0x40000000 if root else 0x10000000 | 0x40000000  # NEWNET, or NEWUSER|NEWNET

        def setup() -> None:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: dies with the worker
            libc.unshare(flags)  # best effort where unprivileged namespaces are refused

        try:
            self.proc = subprocess.Popen(
                [python, "-I", "-S", "-B", "-c", ZYGOTE_SOURCE, str(theirs.fileno()),
                 *harness_texts],
                pass_fds=(theirs.fileno(),), env=env, cwd="/", stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
                preexec_fn=setup)  # noqa: PLW1509 - single-threaded worker
        finally:
            theirs.close()
        self.sock = ours

    def alive(self) -> bool:
        """Whether the server process still runs."""
        return self.proc.poll() is None

    def start(self, job: Job, out_w: int, nonce_r: int) -> int:
        """Fork a child for ``job``; returns its pid (its process group id as well).

        Raises:
            ZygoteLost: the server is gone.
            OSError: the fork failed (the message says why).
        """
        try:
            socket.send_fds(self.sock, [json.dumps(job.__dict__).encode()], [out_w, nonce_r])
            reply = self.sock.recv(4096)
        except OSError as exc:
            raise ZygoteLost(str(exc)) from exc
        if reply.startswith(b"pid "):
            return int(reply[4:])
        if reply.startswith(b"fail "):
            raise OSError(reply[5:].decode("utf-8", "replace"))
        raise ZygoteLost("the sandbox's fork server stopped")

    def fileno(self) -> int:
        """The control socket, readable once the running child has ended."""
        return self.sock.fileno()

    def finish(self, timeout_s: float) -> int:
        """The child's return code, once it and everything it left behind are gone.

        Raises:
            ZygoteLost: no answer within ``timeout_s`` (the server is then stopped).
        """
        self.sock.settimeout(timeout_s)
        try:
            reply = self.sock.recv(4096)
        except OSError as exc:
            self.stop()
            raise ZygoteLost(str(exc)) from exc
        finally:
            if self.sock.fileno() >= 0:
                self.sock.settimeout(None)
        if not reply.startswith(b"exit "):
            self.stop()
            raise ZygoteLost("the sandbox's fork server stopped")
        return int(reply[5:])

    def stop(self) -> None:
        """Stop the server (its running child, if any, dies with it)."""
        self.sock.close()
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait()
