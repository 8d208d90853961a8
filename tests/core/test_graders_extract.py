"""Answer extraction: boxed answers with nesting, answer phrases, GSM8K markers, user patterns."""

from __future__ import annotations

import pytest
from reachscope.core.graders.extract import (
    ExtractionOptions,
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
