"""Helpers behind the app's browsing screens: problem filtering and sorting, trace similarity and
word diffs, trace rendering as Markdown, and progress rates. Plain Python, no UI imports."""

from __future__ import annotations

import difflib
import math
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reachscope.store.problems import ProblemLine

if TYPE_CHECKING:  # numpy and the answer formulas load with the first Problems table
    from .answer_stats import AnswerStats

#: run id -> problem id -> that (run, problem)'s answer evidence (see core/answer_stats.py).
StatsByRun = Mapping[int, Mapping[int, "AnswerStats"]]

#: Coverage categories, as the Problems screen names them (A is the first run, B the second).
CATEGORIES: dict[str, str] = {
    "all": "all problems",
    "both": "both solve",
    "only_a": "only A solves",
    "only_b": "only B solves",
    "neither": "neither solves",
}

#: Answer-evidence filters of the Problems screen (A is the first run, B the second).
EVIDENCE_FILTERS: dict[str, str] = {
    "none": "no answer filter",
    "confidently_wrong": "B confidently wrong (its mode wrong, A solves)",
    "truncated_failures": "truncated failures",
}

#: Labels offered when annotating a trace (free text is also accepted).
ANNOTATION_LABELS = ("valid reasoning", "flawed reasoning", "lucky guess", "grader error", "other")


# --------------------------------------------------------------------------- problem table


@dataclass
class ProblemQuery:
    """What the Problems screen shows: a coverage category, a metadata filter, a text search, an
    answer-evidence filter (see :data:`EVIDENCE_FILTERS`), a sort column (see :func:`sort_key`)
    and direction."""

    category: str = "all"
    ids: frozenset[int] | None = None  # explicit subset (e.g. a coverage cell at k)
    meta: tuple[str, str] | None = None  # (key, value), e.g. ("level", "Level 5")
    text: str = ""
    sort: str = "idx"
    reverse: bool = False
    evidence: str = "none"


def category_of(line: ProblemLine, run_a: int, run_b: int | None) -> str:
    """Coverage category of one problem at the full budget (solved = at least one correct)."""
    a = line.counts.get(run_a, (0, 0))[1] > 0
    if run_b is None:
        return "only_a" if a else "neither"
    b = line.counts.get(run_b, (0, 0))[1] > 0
    return "both" if a and b else "only_a" if a else "only_b" if b else "neither"


def pass1(line: ProblemLine, run_id: int | None) -> float | None:
    """c/n of one run on one problem (None where the run has no graded sample of it)."""
    if run_id is None:
        return None
    n, c = line.counts.get(run_id, (0, 0))
    return c / n if n else None


def delta(line: ProblemLine, run_a: int, run_b: int | None) -> float | None:
    """pass@1 of B minus pass@1 of A."""
    a, b = pass1(line, run_a), pass1(line, run_b)
    return None if a is None or b is None else b - a


def stat_of(stats: StatsByRun | None, run_id: int | None,
            line: ProblemLine) -> AnswerStats | None:
    """One (run, problem)'s answer evidence (None where the run has none for it)."""
    if stats is None or run_id is None:
        return None
    return stats.get(run_id, {}).get(line.id)


def entropy_of(stats: AnswerStats | None) -> float | None:
    """Answer entropy in nats (None: no answered sample)."""
    if stats is None or not stats.distribution.answered:
        return None
    return stats.distribution.entropy


def distinct_of(stats: AnswerStats | None) -> float | None:
    """Distinct answer clusters (None: no answered sample)."""
    if stats is None or not stats.distribution.answered:
        return None
    return float(stats.distribution.distinct)


def truncated_share_of(stats: AnswerStats | None) -> float | None:
    """Share of graded samples that stopped for length (None: no graded sample)."""
    if stats is None or not stats.truncation.samples:
        return None
    return stats.truncation.truncated / stats.truncation.samples


#: Sort columns of the answer evidence: (name, value of a run's stats), each once per run.
EVIDENCE_SORTS = {"entropy": entropy_of, "distinct": distinct_of, "trunc": truncated_share_of}


def sort_key(column: str, run_a: int, run_b: int | None,  # noqa: ANN201 - a key function
             stats: StatsByRun | None = None):
    """Key function for a Problems column; missing values sort last.

    Besides the count columns, ``a_entropy``, ``b_distinct``, ``a_trunc`` and the like sort by
    a run's answer evidence (:data:`EVIDENCE_SORTS`) where ``stats`` has it.
    """

    def num(v: float | None) -> tuple[int, float]:
        return (1, 0.0) if v is None else (0, v)

    side, _, name = column.partition("_")
    if side in ("a", "b") and name in EVIDENCE_SORTS:
        value, run = EVIDENCE_SORTS[name], run_a if side == "a" else run_b
        return lambda p: num(value(stat_of(stats, run, p)))

    keys = {
        "idx": lambda p: (0, p.idx),
        "level": lambda p: (p.meta_str("level") == "", p.meta_str("level")),
        "subject": lambda p: (p.meta_str("subject") == "", p.meta_str("subject")),
        "difficulty": lambda p: (p.meta_str("difficulty") == "", p.meta_str("difficulty")),
        "a": lambda p: num(pass1(p, run_a)),
        "b": lambda p: num(pass1(p, run_b)),
        "delta": lambda p: num(delta(p, run_a, run_b)),
        "prompt": lambda p: (0, (p.prompt or "").lower()),
    }
    if column not in keys:
        raise ValueError(f"unknown sort column {column!r}")
    return keys[column]


def evidence_match(line: ProblemLine, evidence: str, run_a: int, run_b: int | None,
                   stats: StatsByRun | None) -> bool:
    """Whether a problem passes an answer-evidence filter (:data:`EVIDENCE_FILTERS`).

    ``confidently_wrong``: B's mode is wrong while A has a correct sample (core/answers.py's
    definition); ``truncated_failures``: A or B has a sample graded not correct that stopped for
    length.
    """
    if evidence == "none":
        return True
    if evidence == "confidently_wrong":
        from .answer_stats import confidently_wrong

        return run_b is not None and confidently_wrong(
            stat_of(stats, run_b, line), line.counts.get(run_a, (0, 0))[1])
    if evidence == "truncated_failures":
        return any(s is not None and s.truncated_failures > 0
                   for s in (stat_of(stats, run_a, line), stat_of(stats, run_b, line)))
    raise ValueError(f"unknown answer filter {evidence!r}")


def select_problems(lines: Sequence[ProblemLine], query: ProblemQuery, run_a: int,
                    run_b: int | None, stats: StatsByRun | None = None) -> list[ProblemLine]:
    """Filter and sort problem lines for the Problems screen (``stats``: each run's answer
    evidence, for the evidence filter and sort columns)."""
    text = query.text.strip().lower()
    out = []
    for line in lines:
        if query.evidence != "none" and not evidence_match(line, query.evidence, run_a, run_b,
                                                           stats):
            continue
        if query.ids is not None and line.id not in query.ids:
            continue
        if query.category != "all" and category_of(line, run_a, run_b) != query.category:
            continue
        if query.meta is not None and line.meta_str(query.meta[0]) != query.meta[1]:
            continue
        if text and text not in (line.prompt or "").lower() and text != str(line.idx):
            continue
        out.append(line)
    out.sort(key=sort_key(query.sort, run_a, run_b, stats), reverse=query.reverse)
    return out


#: Metadata keys the Problems screen shows and filters on, where a dataset has them.
META_KEYS = ("level", "subject", "difficulty")


def metadata_keys(lines: Sequence[ProblemLine], keys: Sequence[str] = META_KEYS,
                  probe: int = 200) -> list[str]:
    """The keys of ``keys`` that the problems have a value for (the first ``probe`` lines and the
    last are looked at, so a 500-problem table costs nothing)."""
    sample = list(lines[:probe]) + list(lines[-probe:])
    return [k for k in keys if any(line.meta_str(k) for line in sample)]


def metadata_summary(metadata: dict[str, object], keys: Sequence[str] = META_KEYS) -> str:
    """The problem's values for ``keys`` as one line ("Level 3 · Algebra", "difficulty 1"):
    level and subject read alone, other keys are named."""
    parts = []
    for key in keys:
        value = metadata.get(key)
        if value is None or value == "" or isinstance(value, (dict, list)):
            continue
        parts.append(str(value) if key in ("level", "subject") else f"{key} {value}")
    return " · ".join(parts)


def metadata_values(lines: Iterable[ProblemLine], keys: Sequence[str] = META_KEYS,
                    limit: int = 40) -> list[tuple[str, str]]:
    """(key, value) pairs present in the problems' metadata, for a filter menu."""
    seen: dict[tuple[str, str], None] = {}
    for line in lines:
        for key in keys:
            value = line.meta_str(key)
            if value:
                seen[(key, value)] = None
    return sorted(seen)[:limit]


# --------------------------------------------------------------------------- traces

_WORD = re.compile(r"\S+")


def words(text: str) -> list[str]:
    """Whitespace-separated tokens of a trace."""
    return _WORD.findall(text)


def similarity(a: str | set[str], b: str | set[str]) -> float:
    """Token-set Jaccard similarity of two traces (1.0 = same vocabulary)."""
    sa = a if isinstance(a, set) else set(words(a.lower()))
    sb = b if isinstance(b, set) else set(words(b.lower()))
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def most_similar(text: str, candidates: dict[int, str]) -> tuple[int | None, float]:
    """The candidate (by id) whose trace is most similar to ``text``, with its similarity."""
    target = set(words(text.lower()))
    best: tuple[int | None, float] = (None, -1.0)
    for cid, other in candidates.items():
        s = similarity(target, set(words(other.lower())))
        if s > best[1]:
            best = (cid, s)
    return best if best[0] is not None else (None, 0.0)


@dataclass
class DiffChunk:
    """A run of words that is equal in both traces, or differs (``op`` as in difflib)."""

    op: str  # equal | replace | delete | insert
    left: list[str] = field(default_factory=list)
    right: list[str] = field(default_factory=list)


_WORD_WS = re.compile(r"\s*\S+\s*?(?=\s|$)|\s+$")


def word_diff(left: str, right: str) -> list[DiffChunk]:
    """Word-level diff of two traces. Words are compared without their whitespace but returned
    with the whitespace before them, so that joining a side's chunks gives back its text."""
    ta, tb = _WORD_WS.findall(left), _WORD_WS.findall(right)
    matcher = difflib.SequenceMatcher(None, [t.strip() for t in ta], [t.strip() for t in tb],
                                      autojunk=False)
    return [DiffChunk(op, ta[i1:i2], tb[j1:j2]) for op, i1, i2, j1, j2 in matcher.get_opcodes()]


def final_boxed_span(text: str) -> tuple[int, int] | None:
    r"""Start and end offsets of the last ``\boxed{...}`` in a trace (braces balanced)."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth = 0
    for i in range(start + len("\\boxed"), len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return start, i + 1
    return None


_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\$([^$\n]+?)\$|\\\((.+?)\\\)", re.S)


def trace_markdown(text: str, answer: str | None = None) -> str:
    """A completion as Markdown that keeps its LaTeX legible, with the final answer emphasised.

    Display math becomes a code block and inline math a code span, so that Markdown does not eat
    backslashes, underscores or asterisks. The span holding the last ``\\boxed{}`` (or, failing
    that, the extracted answer's last occurrence) is set in bold with a marker.
    """
    span = final_boxed_span(text)
    if span is None and answer:
        pos = text.rfind(answer)
        span = (pos, pos + len(answer)) if pos >= 0 else None
    marker = " **◀ final answer**"
    out: list[str] = []
    last = 0
    for m in _MATH.finditer(text):
        out.append(_plain(text[last : m.start()], span, last, marker))
        holds = span is not None and m.start() <= span[0] < m.end()
        display = m.group(1) is not None or m.group(2) is not None
        if display:
            body = (m.group(1) or m.group(2)).strip()
            out.append(f"\n\n```latex\n{body}\n```\n")
            if holds:
                out.append(f"\n**◀ final answer:** `{text[span[0]:span[1]]}`\n\n")  # type: ignore[index]
        else:
            code = _code_span(m.group(0))
            out.append(f"**{code}**{marker}" if holds else code)
        last = m.end()
    out.append(_plain(text[last:], span, last, marker))
    return "".join(out)


def _code_span(s: str) -> str:
    ticks = "``" if "`" in s else "`"
    return f"{ticks}{s}{ticks}"


def _plain(chunk: str, span: tuple[int, int] | None, offset: int, marker: str) -> str:
    if span is not None and offset <= span[0] < offset + len(chunk):
        i, j = span[0] - offset, min(span[1] - offset, len(chunk))
        return (_escape(chunk[:i]) + f"**{_code_span(chunk[i:j])}**{marker}"
                + _escape(chunk[j:]))
    return _escape(chunk)


def _escape(s: str) -> str:
    # Keep TeX commands outside math legible: a backslash before punctuation would be eaten.
    # A backtick is escaped too, so that TeX's ``quote'' pair is not read as a code span.
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\\\\\1", s).replace("`", "\\`")


# --------------------------------------------------------------------------- live progress


class RateMeter:
    """Samples per second over a sliding window of (time, done) observations."""

    def __init__(self, window_s: float = 30.0) -> None:
        self.window_s = window_s
        self._obs: deque[tuple[float, int]] = deque()

    def observe(self, t: float, done: int) -> None:
        if self._obs and done < self._obs[-1][1]:
            self._obs.clear()  # the run was reset or replaced
        self._obs.append((t, done))
        while len(self._obs) > 2 and t - self._obs[0][0] > self.window_s:
            self._obs.popleft()

    @property
    def rate(self) -> float | None:
        if len(self._obs) < 2:
            return None
        (t0, d0), (t1, d1) = self._obs[0], self._obs[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else None

    def eta_s(self, target: int | None) -> float | None:
        """Seconds until ``target`` samples at the current rate (None when unknown)."""
        rate = self.rate
        if target is None or rate is None or rate <= 0 or not self._obs:
            return None
        return max(target - self._obs[-1][1], 0) / rate


def format_number(x: float | None, spec: str = ".3f") -> str:
    """``x`` formatted with ``spec``, or ``-`` when it is missing or not a number (never ``nan``).

    Args:
        x: The value; ``None``, NaN and infinities count as missing (pass@k beyond a run's n,
            the mean accuracy of a run with no graded problem).
        spec: A format specification such as ``".3f"`` or ``"+.2f"``.

    Returns:
        The formatted number or ``-``, as the README promises for tables.
    """
    if x is None or math.isnan(x) or math.isinf(x):
        return "-"
    return format(x, spec)


def format_ppl(value: float | None) -> str:
    """A perplexity as the tables show it: 3 decimals below 10 (the lab's models sit near 1),
    fewer above; blank where the sample is not scored."""
    if value is None:
        return ""
    return f"{value:.3f}" if value < 10 else f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def format_duration(seconds: float | None) -> str:
    """``1h02m``, ``3m05s``, ``12s`` or an em dash."""
    if seconds is None or math.isnan(seconds) or math.isinf(seconds):
        return "—"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"
