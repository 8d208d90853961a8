"""Answer extraction: boxed answers with nesting, answer phrases, GSM8K markers, user patterns."""

from __future__ import annotations

import time

import pytest
from reachscope.core.graders.extract import (
    AnswerPatternTimeout,
    ExtractionOptions,
    boxed_group,
    braced_argument,
    compile_pattern,
    extract_answer,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so $\\boxed{12}$.", "12"),
        ("first \\boxed{1} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("\\fbox{7}", "7"),
        ("\\boxed 5.", "5"),
        ("\\boxed{\\{1,2\\}}", "\\{1,2\\}"),
        ("good \\boxed{3} then broken \\boxed{4", "3"),
        ("The answer is 42.", "42"),
        ("so the final answer is: $\\frac{3}{4}$. Done", "\\frac{3}{4}"),
        ("Final Answer: 7\nmore text", "7"),
        ("She makes 9 * 2 = 18 dollars.\n#### 18", "18"),
        ("#### 1,000", "1000"),
    ],
)
def test_builtin_rules(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


def test_no_answer_without_marker_and_no_silent_last_number() -> None:
    text = "We compute 3 + 4 = 7 and stop here"
    assert extract_answer(text) is None
    assert extract_answer(text, ExtractionOptions(last_number_fallback=True)) == "7"


def test_user_pattern_wins_and_takes_last_match() -> None:
    opts = ExtractionOptions(answer_pattern=r"^A: (.+)$")
    assert extract_answer("A: 3\nwork...\nA: 18\n", opts) == "18"
    named = ExtractionOptions(answer_pattern=r"ANS=(?P<answer>\d+)")
    assert extract_answer("x ANS=5 \\boxed{9}", named) == "5"


def test_bad_pattern_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="answer pattern"):
        compile_pattern("(unclosed")


def test_braces_escaped_and_nested() -> None:
    assert braced_argument("{a{b}\\}c}", 0) == ("a{b}\\}c", 9)
    assert braced_argument("{open", 0) is None


@pytest.mark.timeout(60)
def test_unclosed_boxes_in_huge_inputs() -> None:
    # 300 unclosed boxes in 1.3 MB: scanning from each box to the end would take minutes.
    text = "\\boxed{7} " + ("\\boxed{" + "{" * 1000) * 300 + "x" * 1_000_000
    assert extract_answer(text) == "7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The sentence states its answer after "is", not in its first math span.
        ("Final Answer: The largest $n$ is 34", "34"),
        ("Final Answer: The largest $n$ is $34$.", "34"),
        ("Final Answer: The value of $x$ for which $f(x)$ is minimal is $3$.", "3"),
        ("Final Answer: The final answer is $34$. I hope it is correct.", "34"),
        ("Final Answer: the number of ways is 1,260.", "1260"),
        # Otherwise the last math span of the sentence.
        ("Final Answer: $x = 2$ and $y = 5$", "y = 5"),
        ("Final Answer: $5$, which is prime", "5"),
        # An answer that comes first keeps its prose as before.
        ("The answer is 5, which is prime", "5, which is prime"),
        ("The answer is 3.5.", "3.5"),
    ],
)
def test_final_answer_sentences(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("so \\boxed{1}, \\boxed{2}, \\boxed{3}", ["1", "2", "3"]),
        ("$\\boxed{1}$ and $\\boxed{-2}$.", ["1", "-2"]),
        ("\\boxed{(-\\infty, 0)} \\text{ or } \\boxed{(1, \\infty)}",
         ["(-\\infty, 0)", "(1, \\infty)"]),
        ("\\boxed{1} \\quad \\boxed{2}", ["1", "2"]),
        # Boxes separated by reasoning are separate groups: only the last counts.
        ("First \\boxed{1}. Then we redo the whole computation and get \\boxed{2}", ["2"]),
        ("\\boxed{7}", ["7"]),
        ("no box", []),
        ("\\boxed{1}, \\boxed{2", ["1"]),
        ("\\boxed{\\boxed{1}, \\boxed{2}}", ["\\boxed{1}, \\boxed{2}"]),
    ],
)
def test_boxed_group(text: str, group: list[str]) -> None:
    assert boxed_group(text) == group


def test_several_boxes_join_only_when_asked() -> None:
    text = "The roots are \\boxed{1}, \\boxed{2}, \\boxed{3}."
    assert extract_answer(text) == "3"
    assert extract_answer(text, several=", ") == "1, 2, 3"
    assert extract_answer(text, several=" \\cup ") == "1 \\cup 2 \\cup 3"
    # A user pattern still wins over boxes.
    opts = ExtractionOptions(answer_pattern=r"roots are (.+)\.$")
    assert extract_answer(text, opts, several=", ").startswith("\\boxed{1}")


@pytest.mark.timeout(60)
def test_backtracking_user_pattern_is_bounded() -> None:
    # With the standard re module this search takes longer than the age of the universe.
    opts = ExtractionOptions(answer_pattern=r"(a+)+$", pattern_timeout=0.2)
    start = time.monotonic()
    with pytest.raises(AnswerPatternTimeout, match=r"ran over 0.2 s"):
        extract_answer("a" * 5000 + "b", opts)
    assert time.monotonic() - start < 10
    # The same pattern on a text where it does not backtrack still answers.
    assert extract_answer("aaa", opts) == "aaa"
