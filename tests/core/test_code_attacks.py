"""Completions that attack the harness instead of passing the tests must not be graded correct.

Every attack runs against a wrong ``add`` (so only a forged proof could pass) in the mode this
process gets (as root: own uid, mount and network namespace) and in the non-root mode, forced
with ``Mode(sys.executable, None)``. The harness's proof is a nonce it never exposes (see
``guard.HARNESS_SOURCE``); each attack prints whatever it could find and exits 0.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from reachscope.core.graders.code import build_parts
from reachscope.core.graders.sandbox import Limits, Mode, RunResult, _run, sandbox_mode

PROMPT = 'def add(a, b):\n    """Add two numbers."""\n'
TEST = "def check(candidate):\n    assert candidate(2, 3) == 5\n"
MODES = {"current": sandbox_mode(), "non-root": Mode(sys.executable, None)}
ROOT_MODE = sandbox_mode().uid is not None

# Prints every string it can reach from the harness, then leaves with status 0.
LEAK = '''
def _leak():
    import os, sys, gc
    out = []
    seen = {id(out)}
    def grab(values):
        for v in values:
            if isinstance(v, bytes):
                v = v.decode("latin-1")
            if isinstance(v, str):
                out.append(v)
            elif type(v) in (tuple, list) and id(v) not in seen:
                seen.add(id(v))
                grab(v)
    main = sys.modules["__main__"]
    for v in list(vars(main).values()):
        grab(getattr(v, "__defaults__", None) or ())
        grab(getattr(v, "__kwdefaults__", None) and v.__kwdefaults__.values() or ())
        for cell in getattr(v, "__closure__", None) or ():
            try:
                grab([cell.cell_contents])
            except ValueError:
                pass
    grab(vars(main).values())
    frame = sys._getframe()
    while frame is not None:
        grab(frame.f_locals.values())
        frame = frame.f_back
    try:
        raise ValueError
    except ValueError as exc:
        frame = exc.__traceback__.tb_frame
        while frame is not None:
            grab(frame.f_locals.values())
            frame = frame.f_back
    try:
        for obj in gc.get_objects():
            if type(obj) is dict:
                grab(obj.values())
            elif type(obj) is tuple:
                grab(obj)
    except Exception as exc:
        out.append(repr(exc))
    for path in ("/proc/self/environ", "/proc/%d/environ" % os.getppid(), "/proc/self/cmdline"):
        try:
            out.append(open(path, "rb").read().decode("latin-1"))
        except Exception as exc:
            out.append(repr(exc))
    for fd in range(3, 40):
        try:
            out.append(os.read(fd, 4096).decode("latin-1"))
        except Exception:
            pass
    grab(list(os.environ.values()))
    text = "\\n".join(out)
    for token in text.replace("\\0", "\\n").split():
        print(token)
    print("\\n".join(out))
    sys.stdout.flush()
    os._exit(0)
'''


def attack(mode: Mode, completion: str, guard: bool = True) -> RunResult:
    source, tests = build_parts(PROMPT, completion, TEST, "add")
    return _run(mode, source, Limits(timeout_s=5, guard=guard), tests)


def guards(mode: Mode) -> list[bool]:
    # Without root the guard is part of the containment; as root the namespaces hold without it.
    return [True, False] if mode.uid is not None else [True]


CASES = [(name, mode, guard) for name, mode in MODES.items() for guard in guards(mode)]
IDS = [f"{name}-{'guard' if guard else 'noguard'}" for name, _, guard in CASES]


@pytest.mark.parametrize(("name", "mode", "guard"), CASES, ids=IDS)
@pytest.mark.parametrize("when", ["module", "call"])
def test_reading_the_nonce_fails(name: str, mode: Mode, guard: bool, when: str) -> None:
    """Defaults, closures, frame locals (stack and traceback), gc, environ, fds: no nonce."""
    body = "    return a - b\n" + LEAK
    body += "_leak()\n" if when == "module" else ""
    if when == "call":
        body = "    _leak()\n" + LEAK
    result = attack(mode, body, guard)
    assert result.status == "exited" and result.returncode == 0
    assert not result.finished, result.output_tail


@pytest.mark.parametrize(("name", "mode", "guard"), CASES, ids=IDS)
def test_sys_audit_forgery_fails(name: str, mode: Mode, guard: bool) -> None:
    body = ("    return a - b\nimport sys, os\n"
            "try:\n    sys.audit('reachscope.passed')\nexcept Exception as e:\n    print(e)\n"
            "try:\n    sys.modules['__main__']._run()\nexcept Exception as e:\n    print(e)\n"
            "import types\nm = sys.modules['__main__']\n"
            "class FakeSys:\n    def __getattr__(self, n):\n        return getattr(sys, n)\n"
            "    def audit(self, event, *a):\n"
            "        if event != 'reachscope.run':\n            sys.audit(event, *a)\n"
            "m._s = FakeSys()\n"
            "clone = types.FunctionType(m._run.__code__, vars(m))\n"
            "try:\n    clone()\nexcept BaseException as e:\n    print(e)\n"
            "os._exit(0)\n")
    result = attack(mode, body, guard)
    assert not result.finished, result.output_tail


@pytest.mark.parametrize(("name", "mode", "guard"), CASES, ids=IDS)
@pytest.mark.parametrize("hook", ["sys.settrace", "sys.setprofile", "threading.settrace"])
def test_tracing_cannot_replace_check(name: str, mode: Mode, guard: bool, hook: str) -> None:
    body = ("    return a - b\nimport sys, threading\n"
            "def _noop(candidate):\n    pass\n"
            "def _tracer(frame, event, arg):\n"
            "    if 'check' in frame.f_globals and frame.f_globals['check'] is not _noop:\n"
            "        frame.f_globals['check'] = _noop\n"
            "    return _tracer\n"
            f"try:\n    {hook}(_tracer)\nexcept Exception as e:\n    print(e)\n"
            "sys._getframe().f_trace = _tracer\n")
    result = attack(mode, body, guard)
    assert not result.finished, result.output_tail
    assert "AssertionError" in result.output_tail or "not allowed" in result.output_tail


@pytest.mark.parametrize(("name", "mode", "guard"), CASES, ids=IDS)
def test_rebinding_builtins_does_not_reach_the_tests(name: str, mode: Mode, guard: bool) -> None:
    test = "def check(candidate):\n    assert abs(candidate(2, 3) - 5) < 1e-9\n"
    source, tests = build_parts(PROMPT, "    return a - b\nimport builtins\n"
                                "builtins.abs = lambda x: 0\n", test, "add")
    result = _run(mode, source, Limits(timeout_s=5, guard=guard), tests)
    assert not result.finished and "AssertionError" in result.output_tail


@pytest.mark.parametrize(("name", "mode", "guard"), CASES, ids=IDS)
def test_writes_outside_the_scratch_do_not_persist(name: str, mode: Mode, guard: bool,
                                                   tmp_path: Path) -> None:
    tag = f"reachscope-attack-{os.getpid()}-{name}-{guard}"
    targets = [f"/tmp/{tag}-fileio", f"/dev/shm/{tag}-posix", f"/tmp/{tag}-open"]
    body = ("    return a + b\nimport _io, posix\n"
            f"for p in {targets[:1]!r}:\n"
            "    try:\n        f = _io.FileIO(p, 'w'); f.write(b'x' * 100000); f.close()\n"
            "    except Exception as e:\n        print(e)\n"
            f"for p in {targets[1:2]!r}:\n"
            "    try:\n        fd = posix.open(p, posix.O_WRONLY | posix.O_CREAT, 0o644)\n"
            "        posix.write(fd, b'x'); posix.close(fd)\n"
            "    except Exception as e:\n        print(e)\n"
            f"try:\n    open({targets[2]!r}, 'w').write('x')\n"
            "except Exception as e:\n    print(e)\n")
    try:
        attack(mode, body, guard)
        assert [t for t in targets if os.path.exists(t)] == []
    finally:
        for t in targets:
            Path(t).unlink(missing_ok=True)


@pytest.mark.parametrize(("name", "mode", "guard"), CASES, ids=IDS)
def test_a_correct_answer_still_passes(name: str, mode: Mode, guard: bool) -> None:
    """The defences do not cost honest programs anything."""
    result = attack(mode, "    import random, socket\n    return a + b\n", guard)
    assert result.finished, result.output_tail


ALWAYS_EQUAL = ("    class _Yes:\n        def __eq__(self, other):\n            return True\n"
                "    return _Yes()\n")
STRICT_PROBLEM = {"prompt": PROMPT, "metadata": {"test": TEST, "entry_point": "add",
                                                 "canonical_solution": "    return a + b\n"}}


def test_always_equal_object_passes_by_default_like_the_official_harness() -> None:
    from reachscope.core.graders import GradeTask
    from reachscope.core.graders.code import CodeGrader

    grader = CodeGrader(timeout=5)
    unit = grader.prepare(GradeTask(0, ALWAYS_EQUAL, None, STRICT_PROBLEM))
    assert grader.run_unit(unit.payload)[0] == "correct"  # type: ignore[union-attr]


@pytest.mark.parametrize(("name", "mode", "guard"), CASES, ids=IDS)
def test_strict_types_refuse_the_always_equal_object(name: str, mode: Mode, guard: bool) -> None:
    from reachscope.core.graders.code import build_parts as parts

    for completion, passes in ((ALWAYS_EQUAL, False), ("    return a + b\n", True),
                               ("    return float(a + b)\n", False)):
        source, tests = parts(PROMPT, completion, TEST, "add", "    return a + b\n")
        result = _run(mode, source, Limits(timeout_s=5, guard=guard), tests)
        assert result.finished is passes, (completion, result.output_tail)
        if not passes:
            assert "strict_types" in result.output_tail


def test_strict_types_option_of_the_grader() -> None:
    from reachscope.core.graders import GradeTask
    from reachscope.core.graders.code import CodeGrader

    grader = CodeGrader(timeout=5, strict_types=True)
    assert grader.version.endswith("-strict")
    unit = grader.prepare(GradeTask(0, ALWAYS_EQUAL, None, STRICT_PROBLEM))
    verdict, detail = grader.run_unit(unit.payload)  # type: ignore[union-attr]
    assert verdict == "incorrect" and "strict_types" in (detail or "")


@pytest.mark.parametrize(("name", "mode", "guard"), CASES, ids=IDS)
def test_many_files_hit_the_total_size_check(name: str, mode: Mode, guard: bool) -> None:
    """Each file stays under RLIMIT_FSIZE (1 MB here); together they pass the 1 MB total."""
    body = ("    return a + b\n"
            "for i in range(4):\n    open('f%d' % i, 'wb').write(b'x' * 600000)\n")
    source, tests = build_parts(PROMPT, body, TEST, "add")
    result = _run(mode, source, Limits(timeout_s=5, guard=guard, file_mb=1), tests)
    assert result.status == "disk_limit" and not result.finished


@pytest.mark.skipif(not ROOT_MODE, reason="the private /tmp needs root")
def test_root_mode_tmp_is_private_and_empty() -> None:
    marker = Path(f"/tmp/reachscope-visible-{os.getpid()}")
    marker.write_text("host")
    try:
        body = (f"    return a + b\nimport os\nassert not os.path.exists({str(marker)!r})\n"
                "open('/tmp/mine', 'w').write('x')\n")
        result = attack(MODES["current"], body, guard=False)
        assert result.finished, result.output_tail
        assert not Path("/tmp/mine").exists()
    finally:
        marker.unlink()
