"""The sandbox's fork server: a forked program behaves as a freshly started one would.

Each test runs in the mode this process gets (as root: own uid, mount and network namespace)
and in the non-root mode, forced with ``Mode(sys.executable, None)``.
"""

from __future__ import annotations

import os
import sys
import time

import pytest
from reachscope.core.graders import sandbox
from reachscope.core.graders.sandbox import Limits, Mode, _run, sandbox_mode

MODES = {"current": sandbox_mode(), "non-root": Mode(sys.executable, None)}
params = pytest.mark.parametrize("mode", list(MODES.values()), ids=list(MODES))


@params
def test_no_capability_is_left(mode: Mode) -> None:
    """A fork keeps capabilities that an exec would drop: the child must have none at all."""
    program = (
        "caps = {}\n"
        "for line in open('/proc/self/status'):\n"
        "    key, _, value = line.partition(':')\n"
        "    if key in ('CapInh', 'CapPrm', 'CapEff', 'CapAmb'):\n"
        "        caps[key] = int(value, 16)\n"
        "assert len(caps) == 4 and not any(caps.values()), caps\n"
        "assert [l for l in open('/proc/self/status') if l.startswith('NoNewPrivs')]"
        "[0].split()[1] == '1'\n")
    result = _run(mode, program, Limits(timeout_s=5))
    assert result.finished, result.output_tail


@params
def test_state_does_not_carry_from_one_program_to_the_next(mode: Mode) -> None:
    first = _run(mode, "import sys, builtins\nsys.marker = 1\nbuiltins.marker = 2\n"
                 "import json\njson.dumps = None\n", Limits(timeout_s=5))
    assert first.finished, first.output_tail
    second = _run(mode, "import sys, builtins, json\n"
                  "assert not hasattr(sys, 'marker') and not hasattr(builtins, 'marker')\n"
                  "assert json.dumps([1]) == '[1]'\n", Limits(timeout_s=5))
    assert second.finished, second.output_tail


@params
def test_a_program_that_closes_its_output_still_times_out(mode: Mode) -> None:
    start = time.monotonic()
    result = _run(mode, "import os\nos.close(1)\nos.close(2)\nwhile True:\n    pass\n",
                  Limits(timeout_s=1.5))
    assert result.status == "timeout"
    assert 1.5 <= time.monotonic() - start < 10


@params
def test_a_child_holding_the_output_does_not_hold_the_grader(mode: Mode) -> None:
    """The program exits; the child it forked keeps stdout open and sleeps: killed, not awaited."""
    program = ("import os, time\n"
               "if os.fork() == 0:\n"
               "    time.sleep(60)\n"
               "    os._exit(0)\n"
               "print('parent done', flush=True)\n")
    start = time.monotonic()
    result = _run(mode, program, Limits(timeout_s=20, guard=False))
    assert time.monotonic() - start < 10
    assert result.status == "exited" and result.finished, result
    assert "parent done" in result.output_tail


@params
def test_exit_status_counts_as_a_fresh_interpreter_would(mode: Mode) -> None:
    at_exit = _run(mode, "import atexit, os\natexit.register(lambda: os._exit(3))\n",
                   Limits(timeout_s=5))
    assert (at_exit.returncode, at_exit.finished) == (3, False)
    early = _run(mode, "raise SystemExit(0)\n", Limits(timeout_s=5), tests="pass\n")
    assert (early.returncode, early.finished) == (0, False)
    crash = _run(mode, "raise ValueError('boom')\n", Limits(timeout_s=5))
    assert crash.returncode == 1 and "ValueError: boom" in crash.output_tail


@params
def test_a_dead_fork_server_is_replaced(mode: Mode) -> None:
    assert _run(mode, "x = 1\n", Limits(timeout_s=5)).finished
    server = sandbox._zygotes[(os.getpid(), mode.python, mode.uid)]
    server.proc.kill()
    server.proc.wait()
    result = _run(mode, "x = 1\n", Limits(timeout_s=5))
    assert result.finished, result.output_tail
    assert sandbox._zygotes[(os.getpid(), mode.python, mode.uid)] is not server


@params
def test_a_running_program_dies_with_its_fork_server(mode: Mode) -> None:
    """The worker is gone (here: its fork server): the program must not live on."""
    import threading

    _run(mode, "x = 1\n", Limits(timeout_s=5))  # the server exists before the thread looks
    server = sandbox._zygotes[(os.getpid(), mode.python, mode.uid)]

    def kill_server() -> None:
        time.sleep(1.0)
        server.proc.kill()

    killer = threading.Thread(target=kill_server)
    killer.start()
    start = time.monotonic()
    result = _run(mode, "import os, time\nprint('pid', os.getpid(), flush=True)\n"
                  "time.sleep(30)\n", Limits(timeout_s=20))
    killer.join()
    assert not result.finished and time.monotonic() - start < 10
    pid = int(result.output_tail.split("pid ")[1].split()[0])
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")
