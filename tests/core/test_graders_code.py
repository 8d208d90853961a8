"""The code grader and its sandbox: real programs, real subprocesses, hostile completions.

Hostile programs run with a short timeout. Each test checks both the verdict and that the
damage did not happen (file still there, no connection, grader alive, no process left).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from reachscope.core.graders import GradeTask, GradingPool
from reachscope.core.graders.code import CodeGrader, build_program
from reachscope.core.graders.sandbox import Limits, run_python, sandbox_mode

PROMPT = 'def add(a, b):\n    """Add two numbers."""\n'
TEST = "def check(candidate):\n    assert candidate(2, 3) == 5\n"
PROBLEM = {"prompt": PROMPT, "metadata": {"test": TEST, "entry_point": "add"}}
ROOT_MODE = sandbox_mode().uid is not None
GUARDS = [True, False] if ROOT_MODE else [True]  # without root the prelude is the only guard


def grade(body: str, guard: bool = True, timeout: float = 2.0) -> tuple[str, str | None]:
    grader = CodeGrader(timeout=timeout, guard=guard)
    unit = grader.prepare(GradeTask(0, body, None, PROBLEM))
    return grader.run_unit(unit.payload)  # type: ignore[union-attr]


def test_program_assembly() -> None:
    assert build_program(PROMPT, "    return a + b\n", TEST, "add").endswith("check(add)\n")
    full = "def add(a, b):\n    return a + b\n"
    assert build_program(PROMPT, full, TEST, "add").startswith(PROMPT + "\n" + full)


@pytest.mark.parametrize(
    ("body", "verdict", "detail"),
    [
        ("    return a + b\n", "correct", None),
        ("    return a - b\n", "incorrect", "AssertionError"),
        ("    return a +\n", "incorrect", "SyntaxError"),
        ("def add(a, b):\n    return b + a\n", "correct", None),
        ("    import sys; sys.exit(0)\n", "incorrect", "before the tests finished"),
        ("    import os; os._exit(0)\n", "incorrect", "before the tests finished"),
        # As in the official harness (exec with no __name__), a main block does not run.
        ("    return a + b\nif __name__ == '__main__':\n    raise SystemExit(1)\n", "correct",
         None),
    ],
)
def test_verdicts(body: str, verdict: str, detail: str | None) -> None:
    got, why = grade(body)
    assert got == verdict
    if detail:
        assert detail in (why or "")


def test_problem_without_tests_is_an_error() -> None:
    result = CodeGrader().prepare(GradeTask(3, "    pass\n", None, {"prompt": PROMPT}))
    assert result.verdict == "error"  # type: ignore[union-attr]


@pytest.mark.parametrize("guard", GUARDS)
def test_infinite_loop_times_out(guard: bool) -> None:
    start = time.monotonic()
    assert grade("    while True:\n        pass\n", guard, timeout=1.0)[0] == "timeout"
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("guard", GUARDS)
def test_fork_bomb_is_contained(guard: bool) -> None:
    body = "    import os\n    while True:\n        try:\n            os.fork()\n" \
           "        except Exception:\n            pass\n"
    start = time.monotonic()
    verdict, _ = grade(body, guard, timeout=1.0)
    assert verdict in ("timeout", "incorrect")
    assert time.monotonic() - start < 15
    if ROOT_MODE:
        uid = sandbox_mode().uid
        # Killed processes take a moment to finish exiting under load.
        deadline = time.monotonic() + 5
        while True:
            left = [p for p in os.listdir("/proc") if p.isdigit() and _live_uid(p) == uid]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert left == [], [Path(f"/proc/{p}/stat").read_text() for p in left]


def _live_uid(pid: str) -> int | None:
    """The uid of a running process (None for zombies: killed, waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return None if state in ("Z", "X") else os.stat(f"/proc/{pid}").st_uid
    except (OSError, IndexError):
        return None


@pytest.mark.parametrize("guard", GUARDS)
def test_memory_bomb_fails(guard: bool) -> None:
    verdict, detail = grade("    x = bytearray(8 * 1024 ** 3)\n    return a + b\n", guard)
    assert verdict == "incorrect" and "MemoryError" in (detail or "")


@pytest.mark.parametrize("guard", GUARDS)
def test_files_outside_scratch_survive(tmp_path: Path, guard: bool) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_text("keep")
    body = (f"    import os, shutil\n    try:\n        os.remove({str(victim)!r})\n"
            f"    except OSError:\n        pass\n"
            f"    shutil.rmtree({str(tmp_path)!r}, ignore_errors=True)\n"
            f"    open({str(tmp_path / 'new.txt')!r}, 'w').write('x')\n    return a + b\n")
    verdict, detail = grade(body, guard)
    # Refused (guard, uid), or out of sight: as root, /tmp is a private tmpfs for the program.
    assert verdict == "incorrect"
    assert "Permission" in (detail or "") or "No such file" in (detail or "")
    assert victim.read_text() == "keep"
    assert not (tmp_path / "new.txt").exists()


def test_scratch_dir_is_writable_home() -> None:
    body = ("    import os\n    open('out.txt', 'w').write('ok')\n"
            "    assert os.environ['HOME'] == os.getcwd()\n    return a + b\n")
    assert grade(body)[0] == "correct"


@pytest.mark.parametrize("guard", GUARDS)
def test_no_network(guard: bool) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    body = (f"    import socket\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    return a + b\n")
    try:
        verdict, _ = grade(body, guard)
        assert verdict == "incorrect"
        with pytest.raises(socket.timeout):
            server.accept()
    finally:
        server.close()


@pytest.mark.parametrize("guard", GUARDS)
def test_gigabytes_of_output_are_cut(guard: bool) -> None:
    start = time.monotonic()
    verdict, detail = grade("    while True:\n        print('x' * 65536)\n", guard)
    assert verdict == "incorrect" and "output over" in (detail or "")
    assert time.monotonic() - start < 10


def test_run_python_reports_tail() -> None:
    result = run_python("print('hello')\nraise SystemExit(3)\n", Limits(timeout_s=5))
    assert result.status == "exited" and result.returncode == 3 and not result.finished
    assert "hello" in result.output_tail


@pytest.fixture(scope="module")
def pool() -> Iterator[GradingPool]:
    with GradingPool("code", workers=2, options={"timeout": 1.5}) as p:
        yield p


def test_hostile_batch_in_pool(pool: GradingPool) -> None:
    """Every hostile program in one batch: the pool reports each and keeps grading."""
    bodies = {
        "ok": "    return a + b\n",
        "kill_parent": "    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n",
        "kill_group": "    import os, signal\n    os.killpg(os.getpgid(os.getppid()), 9)\n",
        "kill_all": "    import os, signal\n    os.kill(-1, signal.SIGKILL)\n",
        "loop": "    while True:\n        pass\n",
        "ok_again": "    return b + a\n",
    }
    tasks = [GradeTask(i, body, None, PROBLEM) for i, body in enumerate(bodies.values())]
    results = pool.submit_batch(tasks).result(timeout=120)
    verdicts = dict(zip(bodies, (r.verdict for r in results)))
    assert verdicts == {"ok": "correct", "kill_parent": "incorrect", "kill_group": "incorrect",
                        "kill_all": "incorrect", "loop": "timeout", "ok_again": "correct"}
    assert pool.restarts == 0
    # Duplicate programs are run once.
    before = pool.units_run
    again = pool.submit_batch([GradeTask(10 + i, "    return a + b\n", None, PROBLEM)
                               for i in range(5)]).result(timeout=60)
    assert {r.verdict for r in again} == {"correct"} and pool.units_run == before
