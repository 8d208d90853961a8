"""The Qwen2.5-Math / ToRA evaluation toolkit's output (also written by limit-of-RLVR).

One JSON object per problem: ``idx``, ``question``, ``gt``, and parallel lists ``code``
(completions), ``pred`` (the toolkit's extracted answers), ``report`` and, when the toolkit graded
them, ``score``. Files without ``score`` import as samples with their ``pred`` and no verdicts.
"""

from __future__ import annotations

from pathlib import Path

from reachscope.store import ProblemIn

from .records import ImportFormatError, ParsedProblem, ParsedSample
from .validation import (
    bool_field,
    int_field,
    iter_jsonl,
    list_field,
    scalar_metadata,
    text_field,
)

#: Problem metadata fields kept when present.
META_FIELDS = ("level", "subject", "type", "unique_id", "id")


def parse_qwen_jsonl(path: Path, data: bytes) -> list[ParsedProblem]:
    """Parse one toolkit output file.

    Args:
        path: the file (for messages).
        data: its bytes.

    Returns:
        The problems with their samples, in file order.

    Raises:
        ImportFormatError: ``FILE:LINE: ...`` for the first malformed record.
    """
    out: list[ParsedProblem] = []
    for lineno, obj in iter_jsonl(path, data):
        where = f"{path}:{lineno}"
        if "code" not in obj:
            raise ImportFormatError(f"{where}: missing field 'code'")
        question = obj.get("question", obj.get("problem"))
        if question is None:
            raise ImportFormatError(f"{where}: missing field 'question'")
        explicit = "idx" in obj
        idx = int_field(obj["idx"], where, "idx") if explicit else len(out)
        code = list_field(obj, "code", where, None) or []
        if not code:
            raise ImportFormatError(f"{where}: field 'code' is empty")
        score = list_field(obj, "score", where, len(code))
        pred = list_field(obj, "pred", where, len(code))
        finish = list_field(obj, "finish_reason", where, len(code))
        ref = obj.get("gt", obj.get("answer"))
        task_id = obj.get("task_id")
        problem = ProblemIn(
            idx=idx,
            prompt=text_field(question, where, "question"),
            answer=text_field(ref, where, "gt", optional=True),
            metadata=scalar_metadata(obj, META_FIELDS, where),
        )
        samples = []
        for i, text in enumerate(code):
            if not isinstance(text, str):
                raise ImportFormatError(
                    f"{where}: 'code'[{i}] must be a string, got {type(text).__name__}"
                )
            samples.append(
                ParsedSample(
                    text=text,
                    line=lineno,
                    correct=None if score is None else bool_field(score[i], where,
                                                                  f"'score'[{i}]"),
                    pred=None if pred is None else text_field(pred[i], where, f"pred[{i}]",
                                                              optional=True),
                    finish_reason=None if finish is None else text_field(
                        finish[i], where, f"finish_reason[{i}]", optional=True),
                )
            )
        out.append(ParsedProblem(
            problem, samples, where, explicit_idx=explicit,
            ref_id=None if task_id is None else text_field(task_id, where, "task_id")))
    return out

