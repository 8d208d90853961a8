"""The math grader: math-verify equivalence, the fast path, the process pool and its limits."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from math_verify import parse, verify
from reachscope.core.graders import GradeTask, GradingPool, get_grader, grade_math_answer
from reachscope.core.graders.math import fast_verdict, reference_separator, strip_percent

# A tower whose evaluation sympy cannot finish; math-verify must be stopped by our deadline.
TOWER = "\\boxed{" + "2^{" * 40 + "2" + "}" * 40 + "}"


@pytest.fixture(scope="module")
def pool() -> Iterator[GradingPool]:
    with GradingPool("math", workers=2, options={"timeout": 2, "kill_after": 5}) as p:
        yield p


@pytest.mark.parametrize(
    ("completion", "reference", "verdict"),
    [
        ("so \\boxed{10000}", "10{,}000", "correct"),
        ("\\boxed{\\frac{1}{2}}", "0.5", "correct"),
        ("\\boxed{\\dfrac{\\sqrt{3}}{2}}", "\\frac{\\sqrt3}{2}", "correct"),
        ("\\boxed{(1, 2)}", "(1,2)", "correct"),
        ("\\boxed{[-2, 3)}", "[-2,3)", "correct"),
        ("\\boxed{\\{3, 1\\}}", "\\{1,3\\}", "correct"),
        ("\\boxed{5\\text{ cm}}", "5", "correct"),
        ("\\boxed{025}", "25", "correct"),
        ("\\boxed{26}", "25", "incorrect"),
        ("\\boxed{\\frac{1}{3}}", "\\frac{1}{2}", "incorrect"),
        ("I am not sure.", "7", "no_answer"),
        ("A: 18", "18", "no_answer"),
    ],
)
def test_grade_math_answer(completion: str, reference: str, verdict: str) -> None:
    assert grade_math_answer(completion, reference)[0] == verdict


def test_options_reach_extraction() -> None:
    assert grade_math_answer("A: 18", "18", answer_pattern=r"^A: (.+)$") == ("correct", "18")
    assert grade_math_answer("it is 7 I guess", "7", last_number_fallback=True)[0] == "correct"


def test_in_process_timeout_is_bounded() -> None:
    start = time.monotonic()
    assert grade_math_answer(TOWER, "3", timeout=1)[0] == "timeout"
    assert time.monotonic() - start < 30


@pytest.mark.parametrize(
    ("reference", "answer"),
    [("025", "25"), ("7", "7"), ("-3", "+3"), ("0.5", "0.5"), ("12", "13"), ("x", "x"),
     ("\\frac{1}{2}", "\\frac{1}{2}"), ("999999999999", "999999999998")],
)
def test_fast_path_agrees_with_math_verify(reference: str, answer: str) -> None:
    fast = fast_verdict(reference, answer)
    assert fast is not None
    plain = verify(parse("\\boxed{" + reference + "}"), parse("\\boxed{" + answer + "}"))
    assert (fast == "correct") == plain


def test_pool_grades_and_dedupes(pool: GradingPool) -> None:
    tasks = [GradeTask(i, f"work... \\boxed{{\\frac{{{i % 3}}}{{4}}}}", "\\frac{1}{4}")
             for i in range(60)]
    runs_before = pool.units_run
    results = sorted(pool.imap_unordered(tasks), key=lambda r: r.key)
    assert [r.key for r in results] == list(range(60))
    assert [r.verdict for r in results] == [("correct" if i % 3 == 1 else "incorrect")
                                           for i in range(60)]
    assert results[1].answer == "\\frac{1}{4}"
    # 60 samples, 3 distinct answers: at most 3 units reached the workers.
    assert pool.units_run - runs_before <= 3
    assert pool.grader_name == "math" and "math-verify" in pool.grader_version


def test_submit_batch_from_threads_keeps_order(pool: GradingPool) -> None:
    futures = []

    def submit(offset: int) -> None:
        futures.append(pool.submit_batch(
            [GradeTask(offset + i, f"\\boxed{{{i}}}", "3") for i in range(10)]))

    threads = [threading.Thread(target=submit, args=(k * 100,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for fut in futures:
        results = fut.result(timeout=60)
        assert [r.key % 100 for r in results] == list(range(10))
        assert [r.verdict for r in results].count("correct") == 1


def test_pathological_answers_time_out(pool: GradingPool) -> None:
    huge = "\\boxed{" + "x+" * 500_000 + "1}"  # a 1 MB answer
    tasks = [GradeTask(1, TOWER, "3"), GradeTask(2, huge, "1"), GradeTask(3, "\\boxed{4}", "4")]
    start = time.monotonic()
    results = pool.submit_batch(tasks).result(timeout=120)
    assert [r.verdict for r in results] == ["timeout", "timeout", "correct"]
    assert len(results[1].answer or "") < 1100  # stored cut, compared whole
    assert time.monotonic() - start < 60


def test_killed_worker_is_replaced() -> None:
    with GradingPool("math", workers=1, options={"timeout": 20}) as pool:
        # A comparison the fast path cannot settle: the worker is up once it is answered.
        warm = pool.submit_batch([GradeTask(0, "\\boxed{2x}", "x+x")]).result(timeout=120)
        assert warm[0].verdict == "correct" and pool.units_run == 1
        fut = pool.submit_batch([GradeTask(1, TOWER, "3"), GradeTask(2, "\\boxed{x^2}", "x^2")])
        time.sleep(1.0)  # let the worker start on the tower
        os.kill(pool.worker_pids()[0], signal.SIGKILL)
        first, second = fut.result(timeout=120)
        assert first.verdict == "error" and "worker died" in (first.detail or "")
        assert second.verdict == "correct"
        assert pool.restarts == 1


def test_bad_options_fail_before_any_worker() -> None:
    with pytest.raises(ValueError, match="answer pattern"):
        GradingPool("math", options={"answer_pattern": "("})
    with pytest.raises(ValueError, match="unknown grader"):
        get_grader("chess")
    with pytest.raises(ValueError, match="grader 'math'"):
        get_grader("math", colour="red")


def test_missing_reference_is_an_error(pool: GradingPool) -> None:
    (result,) = pool.submit_batch([GradeTask(9, "\\boxed{1}", None)]).result(timeout=60)
    assert result.verdict == "error" and "reference" in (result.detail or "")


@pytest.mark.parametrize(
    ("completion", "reference", "verdict"),
    [
        # A percentage states its number, whichever side carries the sign.
        ("so \\boxed{35.0\\%}", "35", "correct"),
        ("so \\boxed{35\\%}", "35", "correct"),
        ("so \\boxed{35}", "35\\%", "correct"),
        ("so \\boxed{35 \\text{\\%}}", "35", "correct"),
        ("so \\boxed{35\\%}", "35\\%", "correct"),
        ("so \\boxed{36\\%}", "35", "incorrect"),
        # The lenient x/100 rule is the paper profile's only.
        ("so \\boxed{0.35}", "35", "incorrect"),
        ("so \\boxed{0.35}", "35\\%", "incorrect"),
    ],
)
def test_percent_answers(completion: str, reference: str, verdict: str) -> None:
    assert grade_math_answer(completion, reference)[0] == verdict


@pytest.mark.parametrize(
    ("completion", "reference", "verdict", "answer"),
    [
        ("\\boxed{1}, \\boxed{2}, \\boxed{3}", "\\{1,2,3\\}", "correct", "1, 2, 3"),
        ("\\boxed{3}, \\boxed{1}, \\boxed{2}", "\\{1,2,3\\}", "correct", "3, 1, 2"),
        ("$\\boxed{-2}$ and $\\boxed{5}$", "-2, 5", "correct", "-2, 5"),
        ("\\boxed{1}, \\boxed{2}", "\\{1,2,3\\}", "incorrect", "1, 2"),
        ("\\boxed{(-\\infty, -1)} \\text{ or } \\boxed{(2, \\infty)}",
         "(-\\infty,-1)\\cup(2,\\infty)", "correct", "(-\\infty, -1) \\cup (2, \\infty)"),
        # Endpoints in two boxes do not say whether the interval is open or closed.
        ("\\boxed{-2}, \\boxed{3}", "[-2,3)", "incorrect", "-2, 3"),
        # A one-part reference: the last box is the answer, as before.
        ("\\boxed{1}, \\boxed{2}, \\boxed{3}", "3", "correct", "3"),
        ("\\boxed{1}, \\boxed{2}, \\boxed{3}", "1", "incorrect", "3"),
    ],
)
def test_several_boxes_against_several_part_references(completion: str, reference: str,
                                                       verdict: str, answer: str) -> None:
    assert grade_math_answer(completion, reference) == (verdict, answer)


def test_final_answer_sentence_is_graded_on_its_number() -> None:
    assert grade_math_answer("Final Answer: The largest $n$ is 34", "34") == ("correct", "34")


@pytest.mark.parametrize(
    ("reference", "separator"),
    [("1,2,3", ", "), ("\\{1,2,3\\}", ", "), ("(1,2)", ", "), ("[-2,3)", ", "),
     ("\\left(3,\\frac{\\pi}{2}\\right)", ", "), ("(-\\infty,0)\\cup(1,\\infty)", " \\cup "),
     ("10{,}000", None), ("f(1,2)+1", None), ("(1,2)+(3,4)", None), ("5", None),
     ("\\frac{1}{2}", None)],
)
def test_reference_separator(reference: str, separator: str | None) -> None:
    assert reference_separator(reference) == separator


def test_strip_percent() -> None:
    assert strip_percent("35\\%") == ("35", True)
    assert strip_percent("12.5 percent") == ("12.5", True)
    assert strip_percent("35") == ("35", False)
    assert strip_percent("\\%") == ("\\%", False)  # nothing left: not a percentage


def test_backtracking_pattern_is_a_timeout_verdict_with_reason() -> None:
    slow = GradingPool("math", workers=1, options={"answer_pattern": r"(a+)+$",
                                                   "pattern_timeout": 0.2})
    with slow:
        start = time.monotonic()
        tasks = [GradeTask(1, "a" * 5000 + "b", "1"), GradeTask(2, "work \\boxed{7}\naaa", "aaa")]
        bad, good = slow.submit_batch(tasks).result(timeout=60)
        assert time.monotonic() - start < 30
    assert bad.verdict == "timeout" and "answer pattern" in (bad.detail or "")
    assert "0.2 s" in (bad.detail or "")
    assert good.verdict == "correct" and good.answer == "aaa"
