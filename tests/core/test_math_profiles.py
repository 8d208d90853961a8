"""Math grading profiles: ``paper`` (the Qwen2.5-Math toolkit's rules) and ``math-verify``.

The pools are real worker processes; the verdicts are the real graders'.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from reachscope.core.graders import GRADER_NAMES, GradeTask, GradingPool, get_grader
from reachscope.core.graders.paper import (
    numbers_equal,
    paper_extract,
    paper_normalize,
    string_verdict,
)
from reachscope.core.graders.registry import MATH_PROFILES, REGISTRY, grader_for_profile


@pytest.fixture(scope="module")
def paper() -> Iterator[GradingPool]:
    with GradingPool("math-paper", workers=1, options={"timeout": 2, "kill_after": 5}) as p:
        yield p


@pytest.fixture(scope="module")
def mv() -> Iterator[GradingPool]:
    with GradingPool("math-verify", workers=1, options={"timeout": 3, "kill_after": 5}) as p:
        yield p


def _grade(pool: GradingPool, cases: list[tuple[str, str]]) -> list[tuple[str, str | None]]:
    tasks = [GradeTask(i, text, ref) for i, (text, ref) in enumerate(cases)]
    return [(r.verdict, r.answer) for r in pool.submit_batch(tasks).result(timeout=120)]


# -- registry ---------------------------------------------------------------------------------

def test_profiles_are_registered_graders() -> None:
    assert {"math", "math-paper", "math-verify", "code"} <= set(GRADER_NAMES)
    assert MATH_PROFILES == {"strict": "math", "paper": "math-paper",
                             "math-verify": "math-verify"}
    assert grader_for_profile("paper") == "math-paper"
    with pytest.raises(ValueError, match="unknown grading profile 'lenient'"):
        grader_for_profile("lenient")
    versions = {name: get_grader(name).version for name in MATH_PROFILES.values()}
    assert versions["math"].startswith("2+math-verify-")
    assert versions["math-paper"].startswith("1+sympy-")
    assert versions["math-verify"].startswith("1+math-verify-")
    assert all(REGISTRY[n].kind == "math" for n in MATH_PROFILES.values())
    with pytest.raises(ValueError, match="grader 'math-verify'"):
        get_grader("math-verify", answer_pattern="x")


# -- paper: extraction ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 1. Minerva's "final answer is $...$. I hope" beats a box.
        ("\\boxed{5} ... Final Answer: The final answer is $7$. I hope it is correct.", "7"),
        # 2. The last box beats an answer phrase.
        ("The answer is 3. Checking again, \\boxed{4}", "4"),
        ("\\boxed{1} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        # 3. The phrase beats the last number.
        ("So the answer is 12.\nWe double-check with 13.", "12."),
        # 4. Else the last number, commas dropped.
        ("we get 3 then 1,204 apples", "1204"),
        ("Final Answer: The largest $n$ is 34", "34"),
        ("no number at all", None),
    ],
)
def test_paper_extraction_order(text: str, expected: str | None) -> None:
    assert paper_extract(text) == expected


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("\\dfrac{1}{2}", "\\frac{1}{2}"), ("x = 5", "5"), ("35\\%", "35"), ("35 \\%", "35"),
     (".5", "0.5"), ("10,000", "10000"), ("5\\text{ cm}", "5"), ("\\frac12", "\\frac{1}{2}"),
     ("1/2", "\\frac{1}{2}"), ("90^\\circ", "90"), ("\\left( 1, 2 \\right)", "(1,2)"),
     ("$\\sqrt3$", "\\sqrt{3}"), ("\\text{(A)}", "(A)")],
)
def test_paper_normalization(raw: str, normal: str) -> None:
    assert paper_normalize(raw) == normal


# -- paper: equivalence -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("pred", "ref", "verdict"),
    [
        ("35", "35", True),
        ("35.0", "35", True),
        ("1.00005", "1", True),  # relative tolerance 1e-4
        ("1.001", "1", False),
        ("0.35", "35", True),  # the percentage rule: r / 100
        ("3500", "35", True),  # and r * 100
        ("0.36", "35", False),
        ("(1,2)", "(1,2.00001)", True),
        ("(1,2)", "[1,2]", False),
        ("(1,3)", "(1,2)", False),
        ("(1,2)", "1,2", True),
        ("A", "a", True),
        ("", "3", False),
        ("x+x", "2x", None),  # needs sympy: decided in a worker
    ],
)
def test_paper_string_verdict(pred: str, ref: str, verdict: bool | None) -> None:
    assert string_verdict(pred, ref) is verdict


def test_numbers_equal_without_percentage() -> None:
    assert numbers_equal(0.35, 35) and not numbers_equal(0.35, 35, percentage=False)


def test_paper_profile_in_workers(paper: GradingPool) -> None:
    assert paper.grader_name == "math-paper"
    got = _grade(paper, [
        ("\\boxed{2x}", "x+x"),
        ("\\boxed{\\frac{\\sqrt{2}}{2}}", "\\frac{1}{\\sqrt2}"),
        ("\\boxed{x^2}", "x^3"),
        ("\\boxed{35.0\\%}", "35"),
        ("\\boxed{35}", "35\\%"),
        ("\\boxed{0.35}", "35"),
        ("Final Answer: The largest $n$ is 34", "34"),
        ("so $y = 2x + 1$. The answer is $y=2x+1$.", "2x+1"),
        ("I cannot solve this.", "4"),
        # The paper takes the last box only.
        ("\\boxed{1}, \\boxed{2}, \\boxed{3}", "\\{1,2,3\\}"),
    ])
    assert [v for v, _ in got] == ["correct", "correct", "incorrect", "correct", "correct",
                                   "correct", "correct", "correct", "no_answer", "incorrect"]
    assert got[3][1] == "35.0" and got[6][1] == "34"


def test_paper_symbolic_work_is_bounded(paper: GradingPool) -> None:
    huge = "\\boxed{" + "x+" * 200_000 + "1}"  # sympy needs far longer than the 2 s allowed
    start = time.monotonic()
    (verdict, answer), (after, _) = _grade(paper, [(huge, "1"), ("\\boxed{4}", "2+2")])
    assert verdict == "timeout" and len(answer or "") < 1100
    assert after == "correct"
    assert time.monotonic() - start < 60


# -- math-verify ------------------------------------------------------------------------------

def test_math_verify_profile_extracts_in_workers(mv: GradingPool) -> None:
    assert mv.grader_name == "math-verify"
    got = _grade(mv, [
        ("so \\boxed{35.0\\%}.", "35"),
        ("so \\boxed{35}.", "35\\%"),
        ("so \\boxed{0.35}.", "35"),
        ("We get \\boxed{1}, \\boxed{2}, \\boxed{3}", "\\{1,2,3\\}"),
        ("Final Answer: The largest $n$ is 34", "34"),
        ("so \\boxed{\\frac{1}{2}}", "0.5"),
        ("so \\boxed{\\frac{1}{3}}", "0.5"),
        ("I do not know.", "4"),
        ("so \\boxed{35.0\\%}.", "35"),  # an equal completion: the cached unit keeps the answer
    ])
    assert [v for v, _ in got] == ["correct", "correct", "incorrect", "correct", "correct",
                                   "correct", "incorrect", "no_answer", "correct"]
    # The answer math-verify extracted comes back from the worker with the verdict.
    assert got[0][1] == "35.0\\%" and got[-1][1] == "35.0\\%"
    assert got[4][1] == "34" and got[7][1] is None


def test_math_verify_missing_reference(mv: GradingPool) -> None:
    (result,) = mv.submit_batch([GradeTask(0, "\\boxed{1}", "")]).result(timeout=60)
    assert result.verdict == "error" and "reference" in (result.detail or "")


# -- every profile ----------------------------------------------------------------------------

@pytest.mark.parametrize("profile", list(MATH_PROFILES))
def test_percent_is_its_number_in_every_profile(profile: str) -> None:
    with GradingPool(MATH_PROFILES[profile], workers=1) as pool:
        got = _grade(pool, [("so \\boxed{35.0\\%}", "35"), ("so \\boxed{35}", "35\\%"),
                            ("so \\boxed{36\\%}", "35")])
    assert [v for v, _ in got] == ["correct", "correct", "incorrect"]
