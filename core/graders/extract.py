"""Answer extraction from math completions: boxed answers, answer phrases, GSM8K markers.

Every function here is plain string processing, linear in the completion length, with no sympy
and no signals, so it is safe (and fast) in any thread of the parent process. Only the
user-given pattern can be slow (a pattern that backtracks badly): it runs under the ``regex``
module's timeout, and a sample whose pattern search overruns raises
:class:`AnswerPatternTimeout` instead of hanging the grader.

Several boxes: a completion may box the parts of one answer separately (``\\boxed{1},
\\boxed{2}, \\boxed{3}``). :func:`boxed_group` returns the trailing group of boxes (the last box
and the boxes just before it separated only by commas, "and"/"or", spaces, ``$`` or ``\\quad``).
When the caller says the reference has several parts (``several``, see
:func:`~reachscope.core.graders.math.reference_separator`), the group is joined into one answer
(``1, 2, 3``, or with ``\\cup`` for a union of intervals); otherwise only the last box counts.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

#: Commands whose argument is the final answer.
_BOX_COMMANDS = ("\\boxed", "\\fbox")

# "The answer is ...", "the final answer is: ...", "Final Answer: ...", searched case-insensitively.
_PHRASE = re.compile(r"(?:final\s+answer|the\s+answer)\s*(?:is|:)\s*:?\s*", re.IGNORECASE)
_BOX = re.compile(r"\\boxed|\\fbox")
_BRACE_TOKEN = re.compile(r"\\.|[{}]", re.DOTALL)
_GSM8K = re.compile(r"####\s*([^\n]+)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
# The end of a sentence: ". " or a final "." (a decimal point is followed by a digit).
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
# "The largest $n$ is 34": the verb after which a sentence states its answer.
_VERB = re.compile(r"\b(?:is|are|equals)\b", re.IGNORECASE)
# What may stand between two boxes of one answer: "\boxed{1}, \boxed{2} and $\boxed{3}$".
_BOX_GAP = re.compile(
    r"(?:\s|[,;.&$]|\\[()\[\],;! ]|\\q?quad|\\text\{\s*(?:and|or|,)?\s*\}|\band\b|\bor\b)*"
)
_MAX_BOX_GAP = 40
#: Answers longer than this are kept as extracted but never echoed whole into details.
MAX_PHRASE_ANSWER = 300
#: Default seconds a user answer pattern may search one completion.
DEFAULT_PATTERN_TIMEOUT_S = 1.0


class AnswerPatternTimeout(Exception):
    """The user answer pattern ran past its time limit on one completion (it backtracks)."""


@dataclass(frozen=True)
class ExtractionOptions:
    """How answers are found in a completion.

    Attributes:
        answer_pattern: a user regular expression for other answer formats (for example
            ``^A: (.+)$``); its last match wins, and the group named ``answer``, else group 1,
            else the whole match is the answer. Tried before the built-in rules.
        last_number_fallback: when nothing else matches, take the last number in the text. Off
            by default because it rewards guessing.
        pattern_timeout: seconds the user pattern may search one completion before
            :class:`AnswerPatternTimeout` is raised.
    """

    answer_pattern: str | None = None
    last_number_fallback: bool = False
    pattern_timeout: float = DEFAULT_PATTERN_TIMEOUT_S


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


def boxed_group(text: str) -> list[str]:
    """The arguments of the trailing group of boxes, in order (one item for a single box).

    The group is the last closed box and the closed boxes before it that are separated from the
    next only by commas, semicolons, "and"/"or", spaces, ``$``, ``\\(``/``\\)`` or ``\\quad``
    (at most 40 characters): ``\\boxed{1}, \\boxed{2}, \\boxed{3}`` gives ``["1", "2", "3"]``,
    while boxes separated by reasoning form separate groups.
    """
    if sum(text.count(cmd) for cmd in _BOX_COMMANDS) < 2:
        last = last_boxed(text)
        return [] if last is None else [last]
    closing = _matching_braces(text)
    boxes: list[tuple[int, int, str]] = []
    for match in _BOX.finditer(text):
        j = match.end()
        if j < len(text) and text[j] == "{":
            end = closing.get(j)
            if end is not None:
                boxes.append((match.start(), end + 1, text[j + 1 : end].strip()))
        else:
            got = _box_argument(text, match.start())
            if got is not None:
                boxes.append((match.start(), match.start() + len(match.group(0)) + 1 + len(got),
                              got))
    # A box inside another box's argument is part of it, not a separate box.
    outer: list[tuple[int, int, str]] = []
    for box in boxes:
        if outer and box[0] < outer[-1][1]:
            continue
        outer.append(box)
    if not outer:
        return []
    group = [outer[-1]]
    for box in reversed(outer[:-1]):
        gap = text[box[1] : group[0][0]]
        if len(gap) > _MAX_BOX_GAP or not _BOX_GAP.fullmatch(gap):
            break
        group.insert(0, box)
    return [content for _, _, content in group if content]


def _clean_phrase_answer(raw: str) -> str | None:
    """The answer a phrase's line states.

    The line is cut at its first sentence end outside math. A sentence such as "The largest
    $n$ is 34" states its answer after the last "is"/"are"/"equals" that a number or a math span
    follows; otherwise the answer is the last math span of the line, else the prose.
    """
    line = raw.split("\n", 1)[0].strip()
    if not line:
        return None
    spans = list(_MATH_SPAN.finditer(line))

    def outside(pos: int) -> bool:
        return not any(s.start() <= pos < s.end() for s in spans)

    cut = next((m.start() for m in _SENTENCE_END.finditer(line) if outside(m.start())), None)
    if cut is not None:
        line = line[:cut]
        spans = [s for s in spans if s.end() <= cut]
    answer: str | None = None
    if line[:1].isalpha():
        answer = _after_verb(line, spans, outside)
    if answer is None and spans:
        answer = next(g for g in spans[-1].groups() if g is not None)
    if answer is None:
        answer = line
    answer = answer.strip().rstrip(".").strip()
    return answer[:MAX_PHRASE_ANSWER] or None


def _after_verb(line: str, spans: list[re.Match[str]],
                outside: Callable[[int], bool]) -> str | None:
    for verb in reversed([m for m in _VERB.finditer(line) if outside(m.start())]):
        rest = line[verb.end() :]
        stripped = rest.lstrip()
        offset = verb.end() + len(rest) - len(stripped)
        span = next((s for s in spans if s.start() == offset), None)
        if span is not None:
            return next(g for g in span.groups() if g is not None)
        number = _NUMBER.match(stripped)
        if number is not None:
            return number.group(0).replace(",", "")
    return None


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


def user_pattern(text: str, pattern: Any, timeout: float = DEFAULT_PATTERN_TIMEOUT_S) -> str | None:
    """The answer captured by the last match of a user pattern (compiled by
    :func:`compile_pattern`).

    Raises:
        AnswerPatternTimeout: the search took longer than ``timeout`` seconds.
    """
    try:
        tail = deque(pattern.finditer(text, timeout=timeout), maxlen=1)
    except TimeoutError as exc:
        raise AnswerPatternTimeout(
            f"answer pattern {pattern.pattern!r} ran over {timeout:g} s on this completion "
            "(it backtracks; simplify it)"
        ) from exc
    last = tail[0] if tail else None
    if last is None:
        return None
    if "answer" in pattern.groupindex:
        got = last.group("answer")
    elif pattern.groups:
        got = last.group(1)
    else:
        got = last.group(0)
    return got.strip() if got and got.strip() else None


def compile_pattern(pattern: str | None) -> Any:
    """Compile a user answer pattern with the ``regex`` module (multi-line mode, so ``^``/``$``
    match at lines; the syntax is Python's ``re``). ``regex`` is used for its match timeout.

    Raises:
        ValueError: the pattern is not a valid regular expression.
    """
    if not pattern:
        return None
    try:
        return regex.compile(pattern, regex.MULTILINE | regex.VERSION0)
    except (regex.error, re.error) as exc:
        raise ValueError(f"answer pattern {pattern!r}: {exc}") from exc


def extract_answer(
    text: str, options: ExtractionOptions = ExtractionOptions(),
    compiled: Any = None, several: str | None = None,
) -> str | None:
    """Find the final answer in a completion.

    Order: the user pattern (if any), the last boxed answer (the trailing group of boxes joined
    with ``several`` when it is given), the last answer phrase, the GSM8K marker, and the last
    number only when ``options.last_number_fallback`` is set.

    Args:
        text: the completion.
        options: extraction options.
        compiled: ``options.answer_pattern`` already compiled (callers grading many samples
            compile it once).
        several: the separator (``", "`` or ``" \\cup "``) to join a trailing group of boxes
            with, when the reference has several parts; None keeps only the last box.

    Returns:
        The answer text, or None when the completion has no extractable answer.

    Raises:
        AnswerPatternTimeout: the user pattern ran past ``options.pattern_timeout``.
    """
    pattern = compiled if compiled is not None else compile_pattern(options.answer_pattern)
    if pattern is not None:
        got = user_pattern(text, pattern, options.pattern_timeout)
        if got is not None:
            return got
    if several is not None:
        group = boxed_group(text)
        if len(group) > 1:
            return several.join(group)
    for rule in (last_boxed, answer_phrase, gsm8k_marker):
        got = rule(text)
        if got:
            return got
    if options.last_number_fallback:
        return last_number(text)
    return None
