"""What a scorer is: items in, one :class:`~reachscope.store.scores.ScoreIn` per item out.

Tokenisation rule (shared by every backend): the prompt and the completion are tokenised
**separately** and their ids concatenated, so the completion is scored as its own tokens. Re-
tokenising ``prompt + completion`` as one string can merge characters across the boundary into
a token the generator never produced (and shift which tokens count as the completion).
"""

from __future__ import annotations

import abc
import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from reachscope.store.scores import ScoreIn

#: scoring backend name -> ``"module:Class"`` in this package (imported on first use).
SCORERS: dict[str, str] = {
    "hf": "hf:HFScorer",
    "vllm": "vllm:VLLMScorer",
    "openai": "openai:OpenAIScorer",
}


class ScoringError(Exception):
    """Scoring cannot start as asked (unknown backend, model that does not load, no prompt)."""


@dataclass(frozen=True)
class ScoreItem:
    """One sample to score.

    Attributes:
        key: the sample id.
        prompt: the exact prompt text the sample was generated from.
        completion: the sample's text.
        add_special_tokens: whether the prompt is tokenised with the tokenizer's special tokens
            (BOS), as the generating backend did (vLLM and servers: yes; hf: no).
    """

    key: int
    prompt: str
    completion: str
    add_special_tokens: bool = True


def split_ids(tokenizer: Any, item: ScoreItem) -> tuple[list[int], list[int]]:
    """Prompt ids and completion ids, tokenised apart (see the module docstring)."""
    prompt = tokenizer(item.prompt, add_special_tokens=item.add_special_tokens)["input_ids"]
    completion = tokenizer(item.completion, add_special_tokens=False)["input_ids"]
    return list(prompt), list(completion)


def prepare(tokenizer: Any, items: Sequence[ScoreItem], limit: int | None
            ) -> tuple[dict[int, ScoreIn], list[tuple[int, list[int], int]]]:
    """Tokenise items: scores already known (empty, too long) by position, and the rest to run
    as ``(position, prompt + completion ids, completion length)``."""
    done: dict[int, ScoreIn] = {}
    todo: list[tuple[int, list[int], int]] = []
    for i, item in enumerate(items):
        prompt, completion = split_ids(tokenizer, item)
        if not prompt:
            done[i] = failed(item.key, "empty prompt: the first token has no context")
        elif not completion:
            done[i] = summarize(item.key, [])
        elif limit and len(prompt) + len(completion) > limit:
            done[i] = failed(item.key, f"{len(prompt) + len(completion)} tokens exceed the "
                                       f"context of {limit}")
        else:
            todo.append((i, prompt + completion, len(completion)))
    return done, todo


def summarize(key: int, logprobs: Sequence[float],
              entropies: Sequence[float] | None = None) -> ScoreIn:
    """The stored score of one sample from its per-token log-probabilities (and entropies)."""
    n = len(logprobs)
    total = math.fsum(logprobs)
    mean = total / n if n else None
    entropy = math.fsum(entropies) / n if entropies is not None and n else None
    return ScoreIn(key, n, total, mean, entropy)


def failed(key: int, reason: str) -> ScoreIn:
    """The stored score of a sample that cannot be scored."""
    return ScoreIn(key, None, None, None, None, reason)


class Scorer(abc.ABC):
    """A model that scores completions. Subclasses set ``name`` and ``gives_entropy``.

    Use as a context manager (``open``/``close`` load and free the model).
    """

    name: ClassVar[str] = ""
    #: Whether :meth:`score` fills ``mean_entropy`` (needs the full next-token distribution).
    gives_entropy: ClassVar[bool] = False

    def __init__(self, model: str) -> None:
        self.model = model

    def open(self) -> None:  # noqa: B027 - optional hook
        """Load the model."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model."""

    def __enter__(self) -> Scorer:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abc.abstractmethod
    def score(self, items: Sequence[ScoreItem]) -> list[ScoreIn]:
        """One score per item, in order (a failed item carries its ``error``)."""

    def provenance(self) -> dict[str, Any]:
        """What to record about the scorer (backend, model, versions)."""
        from ..backends.base import model_config_hash, package_versions

        return {"backend": self.name, "model": self.model,
                "model_config_sha256": model_config_hash(self.model),
                "versions": package_versions()}


def scorer_names() -> tuple[str, ...]:
    """The registered scoring backends."""
    return tuple(SCORERS)


def make_scorer(name: str, model: str, **options: Any) -> Scorer:
    """Build scoring backend ``name`` for ``model`` (options: ``device``, ``dtype``,
    ``base_url``...; None values are left out).

    Raises:
        ScoringError: unknown backend or option.
    """
    entry = SCORERS.get(name)
    if entry is None:
        raise ScoringError(f"no scoring backend {name!r} (choose: {', '.join(SCORERS)})")
    module, _, attr = entry.partition(":")
    cls: type[Scorer] = getattr(importlib.import_module(f".{module}", __package__), attr)
    try:
        return cls(model, **{k: v for k, v in options.items() if v is not None})
    except TypeError as exc:
        raise ScoringError(f"{name} scorer: {exc}") from exc
