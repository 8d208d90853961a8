"""Answer extraction from math completions: boxed answers, answer phrases, GSM8K markers.

Every function here is plain string processing, linear in the completion length, with no sympy
and no signals, so it is safe (and fast) in any thread of the parent process. Only the
user-given pattern can be slow, if the user writes a pattern that backtracks badly.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

#: Commands whose argument is the final answer.
_BOX_COMMANDS = ("\\boxed", "\\fbox")

# "The answer is ...", "the final answer is: ...", "Final Answer: ...", searched case-insensitively.
_PHRASE = re.compile(r"(?:final\s+answer|the\s+answer)\s*(?:is|:)\s*:?\s*", re.IGNORECASE)
_BOX = re.compile(r"\\boxed|\\fbox")
_BRACE_TOKEN = re.compile(r"\\.|[{}]", re.DOTALL)
_GSM8K = re.compile(r"####\s*([^\n]+)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
#: Answers longer than this are kept as extracted but never echoed whole into details.
MAX_PHRASE_ANSWER = 300


@dataclass(frozen=True)
class ExtractionOptions:
    """How answers are found in a completion.

    Attributes:
        answer_pattern: a user regular expression for other answer formats (for example
            ``^A: (.+)$``); its last match wins, and the group named ``answer``, else group 1,
            else the whole match is the answer. Tried before the built-in rules.
        last_number_fallback: when nothing else matches, take the last number in the text. Off
            by default because it rewards guessing.
    """

    answer_pattern: str | None = None
    last_number_fallback: bool = False


def _last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    tail = deque(pattern.finditer(text), maxlen=1)
    return tail[0] if tail else None


def braced_argument(text: str, open_at: int) -> tuple[str, int] | None:
    """The contents of the brace group starting at ``text[open_at] == "{"``, with nesting.

    Returns:
        ``(contents, index after the closing brace)``, or None when the group never closes.
    """
    depth = 0
    i = open_at
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2  # an escaped brace \{ or \} does not count
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i], i + 1
        i += 1
    return None


def last_boxed(text: str) -> str | None:
    """The argument of the last ``\\boxed{...}`` or ``\\fbox{...}`` (nested braces allowed).

    ``\\boxed 5`` (no braces) gives the token after the space. An unclosed box is ignored and
    the previous one is used.
    """
    start = max(text.rfind(cmd) for cmd in _BOX_COMMANDS)
    if start < 0:
        return None
    got = _box_argument(text, start)
    if got is not None:
        return got
    # The last box never closes: match every brace once (linear), then take the last box
    # that does close.
    closing = _matching_braces(text)
    for match in reversed(list(_BOX.finditer(text))):
        j = match.end()
        if j < len(text) and text[j] == "{":
            end = closing.get(j)
            if end is not None:
                return text[j + 1 : end].strip()
        else:
            got = _box_argument(text, match.start())
            if got is not None:
                return got
    return None


def _box_argument(text: str, start: int) -> str | None:
    j = start + (len("\\boxed") if text.startswith("\\boxed", start) else len("\\fbox"))
    if j < len(text) and text[j] == "{":
        got = braced_argument(text, j)
        return None if got is None else got[0].strip()
    if j < len(text) and text[j] == " ":
        token = text[j + 1 :].split(None, 1)
        if token:
            return token[0].rstrip(".$,;")
    return None


def _matching_braces(text: str) -> dict[int, int]:
    """Opening brace index -> closing brace index, for every brace pair (escapes skipped)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACE_TOKEN.finditer(text):
        tok = m.group(0)
        if tok == "{":
            stack.append(m.start())
        elif tok == "}" and stack:
            pairs[stack.pop()] = m.start()
    return pairs


def _clean_phrase_answer(raw: str) -> str | None:
    line = raw.split("\n", 1)[0].strip()
    if not line:
        return None
    span = _MATH_SPAN.search(line)
    if span is not None:
        line = next(g for g in span.groups() if g is not None)
    else:
        # Prose after the answer ("18. Therefore ...") is cut at the first sentence end.
        line = re.split(r"\.\s", line, maxsplit=1)[0]
    line = line.strip().rstrip(".").strip()
    return line[:MAX_PHRASE_ANSWER] or None


def answer_phrase(text: str) -> str | None:
    """The answer after the last "The answer is" / "Final Answer:" phrase, or None."""
    last = _last_match(_PHRASE, text)
    if last is None:
        return None
    return _clean_phrase_answer(text[last.end() : last.end() + 2000])


def gsm8k_marker(text: str) -> str | None:
    """The answer after the last GSM8K ``#### N`` marker, with thousands separators dropped."""
    last = _last_match(_GSM8K, text)
    if last is None:
        return None
    answer = last.group(1).strip().rstrip(".")
    return answer.replace(",", "") if _NUMBER.fullmatch(answer) else answer or None


def last_number(text: str) -> str | None:
    """The last number in the text (thousands separators dropped), or None."""
    last = _last_match(_NUMBER, text)
    return None if last is None else last.group(0).replace(",", "")


def user_pattern(text: str, pattern: re.Pattern[str]) -> str | None:
    """The answer captured by the last match of a user pattern."""
    last = _last_match(pattern, text)
    if last is None:
        return None
    if "answer" in pattern.groupindex:
        got = last.group("answer")
    elif pattern.groups:
        got = last.group(1)
    else:
        got = last.group(0)
    return got.strip() if got and got.strip() else None


def compile_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """Compile a user answer pattern (multi-line mode, so ``^``/``$`` match at lines).

    Raises:
        ValueError: the pattern is not a valid regular expression.
    """
    if not pattern:
        return None
    try:
        return re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise ValueError(f"answer pattern {pattern!r}: {exc}") from exc


def extract_answer(
    text: str, options: ExtractionOptions = ExtractionOptions(),
    compiled: re.Pattern[str] | None = None,
) -> str | None:
    """Find the final answer in a completion.

    Order: the user pattern (if any), the last boxed answer, the last answer phrase, the GSM8K
    marker, and the last number only when ``options.last_number_fallback`` is set.

    Args:
        text: the completion.
        options: extraction options.
        compiled: ``options.answer_pattern`` already compiled (callers grading many samples
            compile it once).

    Returns:
        The answer text, or None when the completion has no extractable answer.
    """
    pattern = compiled if compiled is not None else compile_pattern(options.answer_pattern)
    if pattern is not None:
        got = user_pattern(text, pattern)
        if got is not None:
            return got
    for rule in (last_boxed, answer_phrase, gsm8k_marker):
        got = rule(text)
        if got:
            return got
    if options.last_number_fallback:
        return last_number(text)
    return None
