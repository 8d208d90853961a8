"""LLM judge of a review queue: the rubric prompt and the parsing of the judge's reply (pure).

``reachscope judge`` (core/commands/judge.py) sends each unjudged queue item, rendered through a
rubric, to an OpenAI-compatible server and stores the label this module reads from the reply.

A rubric is plain text with placeholders; only ``{problem}``, ``{reference}``, ``{answer}`` and
``{trace}`` are replaced (other braces, such as LaTeX's ``\\boxed{}``, stay as they are), and
``{trace}`` is required. It may start with a front-matter block naming extra words the reply may
use for a label (a rubric asking for a number, say)::

    ---
    aliases: 1=valid, 2=flawed, 3=guess, 4=ambiguous
    ---

The reply is read, in this order of precedence, from

1. explicit label fields: ``LABEL: valid``, ``**Verdict:** flawed``, ``{"label": "guess"}``;
2. else ``\\boxed{...}``;
3. else a reply that is one word (``Ambiguous.``).

Reasoning inside ``<think>...</think>`` is ignored. Anything else is a parse failure, never a
guess: no label, a value that is not a label (``LABEL: invalid``, ``LABEL: not valid``),
conflicting labels, a reply cut inside its thinking. A failure is recorded for the item (and
retried by the next run) rather than stored as a label.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .review import JUDGEMENTS

#: Stored for an item whose reply had no readable label (the reply kept in the note).
UNPARSED = "unparsed"
#: Stored for an item whose request failed (the error kept in the note).
REQUEST_FAILED = "request-failed"
#: What a judge stores when it gets no label; not judgements, so the next run retries them.
FAILURE_LABELS: tuple[str, ...] = (UNPARSED, REQUEST_FAILED)
#: The placeholders a rubric may use.
PLACEHOLDERS: tuple[str, ...] = ("problem", "reference", "answer", "trace")
#: The shipped rubric (core/data/judge_rubric.txt).
DEFAULT_RUBRIC = "judge_rubric.txt"

#: Longest reply kept in a label's note.
NOTE_CHARS = 2000


class RubricError(ValueError):
    """A rubric file that cannot be used (the message names the file and line)."""


@dataclass(frozen=True)
class Rubric:
    """A rubric: the prompt template and the words its replies may use per label.

    Attributes:
        text: the template, front matter removed.
        source: where it came from (a path, or ``built-in``), for messages.
        aliases: extra reply word (lower case) -> label.
    """

    text: str
    source: str
    aliases: dict[str, str] = field(default_factory=dict)


def default_rubric_text() -> str:
    """The text of the shipped rubric."""
    return resources.files("reachscope.core").joinpath("data", DEFAULT_RUBRIC).read_text("utf-8")


def load_rubric(path: Path | None) -> Rubric:
    """The rubric in ``path``, or the shipped one.

    Raises:
        RubricError: unreadable file, bad front matter, no ``{trace}``.
    """
    if path is None:
        return parse_rubric(default_rubric_text(), "built-in rubric")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError(f"{path}: cannot read the rubric ({exc})") from exc
    return parse_rubric(text, str(path))


def parse_rubric(text: str, source: str) -> Rubric:
    """Split off the front matter and check the template.

    Raises:
        RubricError: bad front matter, or no ``{trace}`` placeholder.
    """
    aliases: dict[str, str] = {}
    lines = text.splitlines(keepends=True)
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is None:
            raise RubricError(f"{source}:1: front matter opened with '---' is never closed")
        for lineno in range(1, end):
            line = lines[lineno].strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition(":")
            if not sep or key.strip() != "aliases":
                raise RubricError(f"{source}:{lineno + 1}: unknown front matter {line!r} "
                                  "(expected 'aliases: WORD=LABEL, ...')")
            aliases.update(_aliases(value, f"{source}:{lineno + 1}"))
        text = "".join(lines[end + 1:])
    if "{trace}" not in text:
        raise RubricError(f"{source}: the rubric has no {{trace}} placeholder (placeholders: "
                          + ", ".join("{" + p + "}" for p in PLACEHOLDERS) + ")")
    return Rubric(text, source, aliases)


def _aliases(value: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        word, sep, label = (s.strip() for s in part.partition("="))
        if not sep or not word or label not in JUDGEMENTS:
            raise RubricError(f"{where}: alias {part!r} is not WORD=LABEL with LABEL one of "
                              + ", ".join(JUDGEMENTS))
        out[word.lower()] = label
    return out


def build_prompt(rubric: Rubric, problem: str, reference: str, answer: str, trace: str) -> str:
    """The rubric with its placeholders filled (in one pass: a trace holding ``{answer}``
    stays as it is)."""
    values = {"problem": problem, "reference": reference, "answer": answer, "trace": trace}
    return re.sub(r"\{(" + "|".join(PLACEHOLDERS) + r")\}", lambda m: values[m.group(1)],
                  rubric.text)


@dataclass(frozen=True)
class Verdict:
    """What a reply says: ``label`` (one of the judgements), or ``error`` saying why not."""

    label: str | None
    error: str | None = None


_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FIELD = re.compile(
    r"\b(?:final[ _-]?)?(?:label|verdict)\b[\"'*_\s]*[:=][\"'*_`\s]*([A-Za-z0-9_-]+)", re.I)
_BOXED = re.compile(r"\\boxed\{\s*(?:\\text\{\s*)?([A-Za-z0-9_-]+)\s*\}?\s*\}")
_WORD = re.compile(r"[\s*_`\"'.!]*([A-Za-z0-9_-]+)[\s*_`\"'.!]*")


def parse_reply(reply: str, aliases: Mapping[str, str] | None = None,
                finish_reason: str | None = None) -> Verdict:
    """The label a judge's reply gives, or why it gives none.

    Args:
        reply: the reply text.
        aliases: extra words accepted per label (the rubric's), lower case.
        finish_reason: the server's; ``length`` names the cause when no label is found.
    """
    vocab = {label: label for label in JUDGEMENTS} | dict(aliases or {})
    text = _THINK.sub(" ", reply)
    if re.search(r"<think>", text, re.I):
        return Verdict(None, "the reply ends inside <think> (no answer after the reasoning"
                       + (", cut at --max-tokens)" if finish_reason == "length" else ")"))
    if not text.strip():
        return Verdict(None, "empty reply")
    for kind, pattern in (("label field", _FIELD), ("\\boxed{}", _BOXED)):
        values = pattern.findall(text)
        if values:
            return _decide(values, vocab, kind)
    whole = _WORD.fullmatch(text)
    if whole is not None:
        return _decide([whole.group(1)], vocab, "reply")
    cut = " (cut at --max-tokens)" if finish_reason == "length" else ""
    return Verdict(None, f"no label in the reply{cut}")


def _decide(values: list[str], vocab: Mapping[str, str], kind: str) -> Verdict:
    known = {vocab[v.lower()] for v in values if v.lower() in vocab}
    last = values[-1]
    if last.lower() not in vocab:
        return Verdict(None, f"{kind} {last!r} is not a label (" + ", ".join(JUDGEMENTS) + ")")
    if len(known) > 1:
        return Verdict(None, f"conflicting labels in the reply: {', '.join(sorted(known))}")
    return Verdict(vocab[last.lower()])


def failure_note(error: str, reply: str) -> str:
    """The note stored with a failure: why, then the reply (trimmed)."""
    return f"{error}\n---\n{reply[:NOTE_CHARS]}" if reply else error
