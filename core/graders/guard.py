"""The guard prelude: Python-level refusals run before an untrusted program (best effort).

It is source text, executed inside the sandboxed interpreter before the program. It refuses
process creation, signals to other processes, sockets, and writing, renaming or deleting
outside the working directory. Code that reaches the C library directly (``ctypes``) is not
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
                 "pidfd_open", "register_at_fork"):
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
