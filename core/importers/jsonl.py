"""Generic JSONL: one sample per line, with field names given by the user."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reachscope.store import ProblemIn

from .records import ImportFormatError, ParsedProblem, ParsedSample
from .validation import bool_field, int_field, iter_jsonl, text_field


@dataclass
class JsonlFields:
    """Field names of a generic one-sample-per-line JSONL file (None: not in the file)."""

    problem: str = "problem"
    completion: str = "completion"
    index: str | None = "problem_index"
    answer: str | None = "answer"
    #: A task id (HumanEval's ``task_id``): names a problem of a shipped dataset.
    id: str | None = "task_id"
    sample_index: str | None = None
    correct: str | None = None
    pred: str | None = None
    finish_reason: str | None = None
    n_tokens: str | None = None


def parse_generic_jsonl(path: Path, data: bytes, fields: JsonlFields) -> list[ParsedProblem]:
    """Parse one sample per line; lines of one problem are grouped together.

    A problem is named by its task id, its text or its index (the first of these a line has).

    Raises:
        ImportFormatError: ``FILE:LINE: ...`` for the first malformed line.
    """
    groups: dict[str, ParsedProblem] = {}
    with_sample_index: dict[str, tuple[bool, int]] = {}
    for lineno, obj in iter_jsonl(path, data):
        where = f"{path}:{lineno}"
        key, problem = _problem(obj, fields, where, len(groups))
        group = groups.get(key)
        if group is None:
            group = groups[key] = problem
        sample = _sample(obj, fields, where, lineno)
        has_index = sample.sample_idx is not None
        first = with_sample_index.setdefault(key, (has_index, lineno))
        if first[0] != has_index:
            raise ImportFormatError(
                f"{where}: {'has' if has_index else 'has no'} field {fields.sample_index!r} but "
                f"the first sample of this problem (line {first[1]}) "
                f"{'has none' if has_index else 'has one'}"
            )
        group.samples.append(sample)
    return list(groups.values())


def _problem(obj: dict[str, Any], fields: JsonlFields, where: str,
             order: int) -> tuple[str, ParsedProblem]:
    """The grouping key and the problem a line names."""
    has_prompt = fields.problem in obj
    has_index = fields.index is not None and fields.index in obj
    has_id = fields.id is not None and obj.get(fields.id) is not None
    if not (has_prompt or has_index or has_id):
        alternatives = [repr(f) for f in (fields.index, fields.id) if f]
        raise ImportFormatError(
            f"{where}: missing field {fields.problem!r}"
            + (f" (or {' or '.join(alternatives)})" if alternatives else "")
        )
    prompt = text_field(obj[fields.problem], where, fields.problem) if has_prompt else None
    idx = int_field(obj[fields.index], where, fields.index) \
        if has_index and fields.index else None
    ref_id = text_field(obj[fields.id], where, fields.id) if has_id and fields.id else None
    if ref_id is not None:
        key = f"id:{ref_id}"
    elif prompt is not None:
        key = "text:" + " ".join(prompt.split())
    else:
        key = f"index:{idx}"
    answer = None
    if fields.answer and fields.answer in obj:
        answer = text_field(obj[fields.answer], where, fields.answer, optional=True)
    problem = ProblemIn(idx=idx if idx is not None else order, prompt=prompt, answer=answer,
                        metadata={} if ref_id is None else {"task_id": ref_id})
    return key, ParsedProblem(problem, [], where, explicit_idx=idx is not None, ref_id=ref_id)


def _sample(obj: dict[str, Any], fields: JsonlFields, where: str, lineno: int) -> ParsedSample:
    if fields.completion not in obj:
        raise ImportFormatError(f"{where}: missing field {fields.completion!r}")
    completion = obj[fields.completion]
    if not isinstance(completion, str):
        hint = (" (the Qwen2.5-Math toolkit's output, with lists per problem, imports with "
                "`reachscope import qwen-jsonl`)" if isinstance(completion, list) else "")
        raise ImportFormatError(
            f"{where}: field {fields.completion!r} must be a string, "
            f"got {type(completion).__name__}{hint}"
        )
    sample = ParsedSample(text=completion, line=lineno)
    if fields.correct and fields.correct in obj:
        sample.correct = bool_field(obj[fields.correct], where, f"field {fields.correct!r}")
    if fields.pred and fields.pred in obj:
        sample.pred = text_field(obj[fields.pred], where, fields.pred, optional=True)
    if fields.finish_reason and fields.finish_reason in obj:
        sample.finish_reason = text_field(obj[fields.finish_reason], where,
                                          fields.finish_reason, optional=True)
    if fields.n_tokens and fields.n_tokens in obj:
        sample.n_tokens = int_field(obj[fields.n_tokens], where, fields.n_tokens)
    if fields.sample_index and fields.sample_index in obj:
        sample.sample_idx = int_field(obj[fields.sample_index], where, fields.sample_index)
        if sample.sample_idx < 0:
            raise ImportFormatError(f"{where}: field {fields.sample_index!r} must be >= 0")
    return sample
