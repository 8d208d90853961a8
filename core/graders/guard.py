"""The guard prelude: Python-level refusals run before an untrusted program (best effort).

It is source text, executed inside the sandboxed interpreter before the program. It refuses
process creation, signals to other processes, sockets, and writing, renaming or deleting
outside the working directory. ``os.register_at_fork`` stays allowed (``import random`` calls it,
and a fork it prepares for is refused anyway), and the socket module still imports: only
creating a socket is refused. Code that reaches the C library directly (``ctypes``) is not
stopped by it; the operating-system limits in :mod:`sandbox` are what bound such code.
"""

GUARD_SOURCE = r'''
def _reachscope_guard():
    import builtins, io, os, sys
    import _posixsubprocess, _socket

    root = os.path.realpath(os.getcwd())

    def deny(what):
        raise PermissionError("sandbox: " + what + " is not allowed")

    def inside(path):
        if isinstance(path, int):
            return False
        try:
            real = os.path.realpath(os.fsdecode(os.fspath(path)))
        except (TypeError, ValueError):
            return False
        return real == root or real.startswith(root + os.sep)

    real_open = builtins.open

    def guarded_open(file, mode="r", *args, **kwargs):
        if not isinstance(file, int) and any(c in mode for c in "wax+") and not inside(file):
            deny("writing " + repr(file))
        return real_open(file, mode, *args, **kwargs)

    builtins.open = io.open = guarded_open

    real_os_open = os.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def guarded_os_open(path, flags, mode=0o777, *, dir_fd=None):
        if flags & writing and (dir_fd is not None or not inside(path)):
            deny("writing " + repr(path))
        return real_os_open(path, flags, mode, dir_fd=dir_fd)

    os.open = guarded_os_open

    def path_checked(name, n_paths):
        real = getattr(os, name)

        def checked(*args, **kwargs):
            if kwargs.get("dir_fd") is not None or kwargs.get("src_dir_fd") is not None:
                deny(name + " with dir_fd")
            for path in args[:n_paths]:
                if not inside(path):
                    deny(name + " of " + repr(path))
            return real(*args, **kwargs)

        setattr(os, name, checked)

    for name in ("remove", "unlink", "rmdir", "removedirs", "mkdir", "makedirs", "chmod",
                 "chown", "lchown", "truncate", "utime", "mkfifo", "mknod"):
        if hasattr(os, name):
            path_checked(name, 1)
    for name in ("rename", "renames", "replace", "link", "symlink"):
        path_checked(name, 2)

    def refuse(name):
        def refused(*args, **kwargs):
            deny(name)
        return refused

    for name in ("fork", "forkpty", "system", "popen", "execv", "execve", "execl", "execle",
                 "execlp", "execlpe", "execvp", "execvpe", "spawnv", "spawnve", "spawnl",
                 "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe", "posix_spawn",
                 "posix_spawnp", "killpg", "setsid", "setpgid", "setuid", "setgid",
                 "pidfd_open"):
        if hasattr(os, name):
            setattr(os, name, refuse("os." + name))
    _posixsubprocess.fork_exec = refuse("starting processes")

    real_kill = os.kill
    own = os.getpid()

    def guarded_kill(pid, sig):
        if pid != own:
            deny("signalling other processes")
        return real_kill(pid, sig)

    os.kill = guarded_kill

    class NoSocket(_socket.socket):
        # No __dict__/__weakref__ of its own: socket.socket adds them in its __slots__.
        __slots__ = ()

        def __init__(self, *args, **kwargs):
            deny("network access")

    _socket.socket = _socket.SocketType = NoSocket
    for name in ("socketpair", "getaddrinfo", "gethostbyname", "create_connection"):
        if hasattr(_socket, name):
            setattr(_socket, name, refuse("network access"))
    sys.modules.pop("socket", None)


_reachscope_guard()
del _reachscope_guard
'''

#: The harness: runs ``solution.py`` (and ``tests.py`` after it, in the same globals, with the
#: builtins restored), and proves that it got to the end.
#:
#: The proof is a nonce that arrives on a pipe (argv[1] is its descriptor), never in the
#: environment, and is kept only in the closure of an audit hook, which Python code cannot reach
#: or remove. The hook writes it to stdout only when the ``reachscope.passed`` event comes from
#: the very frame of ``_run`` that started the run, after both programs returned. The hook also
#: refuses what would let a program reach the nonce or skip the tests: tracing and profiling
#: hooks, ``gc`` object walks, ``ctypes`` and the C test modules, threads, reading
#: ``/proc/*/mem`` or ``environ``, replacing a function's code, and a second run. With the guard
#: on it also refuses, whatever the Python API (``open``, ``_io.FileIO``, ``posix.open``), writes
#: outside the working directory, process creation, signals to other processes and sockets.
HARNESS_SOURCE = r"""
import os as _o, sys as _s
#GUARD
def _install(fd, out, guarded):
    chunks = []
    while True:
        chunk = _o.read(fd, 64)
        if not chunk:
            break
        chunks.append(chunk)
    _o.close(fd)
    report = b"\n" + b"".join(chunks) + b"\n"
    del chunks
    getframe, write, realpath, getcwd = _s._getframe, _o.write, _o.path.realpath, _o.getcwd
    root = realpath(getcwd())
    own = _o.getpid()
    writing = _o.O_WRONLY | _o.O_RDWR | _o.O_CREAT | _o.O_TRUNC | _o.O_APPEND
    state = {}
    always = frozenset(("sys.settrace", "sys.setprofile", "gc.get_objects", "gc.get_referrers",
                        "gc.get_referents", "_thread.start_new_thread", "sys.addaudithook"))
    banned_modules = frozenset(("_ctypes", "ctypes", "_testcapi", "_testinternalcapi",
                                "_xxsubinterpreters", "_posixshmem"))
    processes = frozenset(("os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn",
                           "os.system", "subprocess.Popen", "os.killpg", "socket.__new__",
                           "socket.connect", "socket.bind", "socket.sendto", "os.setuid",
                           "os.setgid"))
    changes = frozenset(("os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.symlink",
                         "os.link", "os.chmod", "os.chown", "os.truncate", "os.utime",
                         "shutil.rmtree", "os.mkfifo", "os.mknod"))

    def outside(path):
        # Only plain str/bytes are looked at: calling a program's __fspath__ here would run its
        # code inside the hook, with the hook's frame (and the nonce) on the stack.
        if type(path) is bytes:
            path = path.decode("utf-8", "surrogateescape")
        elif type(path) is not str:
            return True
        real = realpath(path)
        return not (real == root or real.startswith(root + "/"))

    def deny(what):
        raise PermissionError("sandbox: " + what + " is not allowed")

    def hook(event, args):
        if event.startswith("reachscope."):
            frame = getframe(1)
            if event == "reachscope.run" and "frame" not in state:
                state["frame"] = frame
                return
            if event == "reachscope.passed" and state.get("frame") is frame \
                    and "done" not in state:
                state["done"] = True
                write(out, report)
                return
            deny("calling the harness")
        if "frame" not in state:
            return
        if event in always or event.startswith("ctypes."):
            deny(event)
        if event == "import" and args[0] in banned_modules:
            deny("importing " + str(args[0]))
        if event == "object.__setattr__" and args[1] == "__code__":
            deny("replacing code")
        if event == "open":
            path, flags = args[0], args[2]
            if type(path) is str and path.startswith("/proc/") and \
                    path.rstrip("/").rsplit("/", 1)[-1] in ("mem", "environ", "pagemap"):
                deny("reading " + path)
            if guarded and type(path) is not int and type(flags) is int \
                    and flags & writing and outside(path):
                deny("writing outside the working directory")
        elif guarded:
            if event in processes:
                deny(event)
            if event == "os.kill" and args[0] != own:
                deny("signalling other processes")
            if event in changes:
                for path in args[:2]:
                    if type(path) is not int and outside(path):
                        deny(event + " outside the working directory")

    _s.addaudithook(hook)


def _run():
    # Everything _run uses is a local bound before the program runs: the program can rebind
    # this module's globals, not these.
    audit, flush, compile_, exec_, dict_ = _s.audit, _s.stdout.flush, compile, exec, dict
    import builtins
    clean = tuple(builtins.__dict__.items())
    program = compile_(open("solution.py", encoding="utf-8").read(), "solution.py", "exec")
    tests = None
    if _o.path.exists("tests.py"):
        tests = compile_(open("tests.py", encoding="utf-8").read(), "tests.py", "exec")
    # No __name__, as in the official harness's exec(program, {}): a completion's
    # ``if __name__ == "__main__":`` block (doctest.testmod(), input(), prints) does not run.
    namespace = {"__builtins__": builtins}
    audit("reachscope.run")
    exec_(program, namespace)
    if tests is not None:
        namespace["__builtins__"] = dict_(clean)
        exec_(tests, namespace)
    flush()
    audit("reachscope.passed")


_install(int(_s.argv[1]), _o.dup(1), GUARDED)
del _install
_run()
"""
