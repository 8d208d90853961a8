"""The ``vllm`` scorer: ``prompt_logprobs`` of prompt + completion with ``max_tokens=1``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from reachscope.store.scores import ScoreIn

from .base import ScoreItem, Scorer, ScoringError, prepare, summarize


class VLLMScorer(Scorer):
    """Score with vLLM's offline engine (one engine per scorer, all items queued together).

    vLLM returns the log-probability of each prompt token given the tokens before it; the
    prompt sent is the concatenated ids (see :func:`~.base.split_ids`), and the completion's
    part is summed. vLLM gives no full distribution here, so ``mean_entropy`` stays None.

    Args:
        model: local directory or hub name.
        dtype: vLLM dtype (``"auto"``, ``"float32"``, ``"bfloat16"``...).
        engine_args: further ``vllm.LLM`` keyword arguments.
    """

    name = "vllm"

    def __init__(self, model: str, dtype: str = "auto",
                 engine_args: dict[str, Any] | None = None) -> None:
        super().__init__(model)
        self.engine_args: dict[str, Any] = {"dtype": dtype, **(engine_args or {})}
        self._llm: Any = None
        self.tokenizer: Any = None

    def open(self) -> None:
        os.environ.setdefault("VLLM_CACHE_ROOT", os.path.join(os.getcwd(), ".cache", "vllm"))
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ScoringError(f"vllm scorer: cannot import vllm ({exc})") from exc
        try:
            self._llm = LLM(model=self.model, **self.engine_args)
        except (OSError, ValueError) as exc:
            raise ScoringError(f"vllm: cannot load model {self.model!r}: {exc}") from exc
        self.tokenizer = self._llm.get_tokenizer()

    def close(self) -> None:
        if self._llm is not None:
            engine = self._llm.llm_engine
            shutdown = getattr(engine, "shutdown", None) or getattr(
                getattr(engine, "engine_core", None), "shutdown", None)
            if callable(shutdown):
                shutdown()
        self._llm = None

    def score(self, items: Sequence[ScoreItem]) -> list[ScoreIn]:
        from vllm import SamplingParams, TokensPrompt

        if self._llm is None:
            raise ScoringError("vllm: score() before open()")
        limit = self._llm.llm_engine.model_config.max_model_len
        # One more position for the token vLLM generates after the prompt.
        out, todo = prepare(self.tokenizer, items, limit - 1)
        if todo:
            params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
            results = self._llm.generate(
                [TokensPrompt(prompt_token_ids=ids) for _, ids, _ in todo], params,
                use_tqdm=False)
            for (i, ids, n), result in zip(todo, results):
                rows = result.prompt_logprobs or []
                logprobs = [rows[t][ids[t]].logprob for t in range(len(ids) - n, len(ids))]
                out[i] = summarize(items[i].key, logprobs)
        return [out[i] for i in range(len(items))]

    def provenance(self) -> dict[str, Any]:
        info = super().provenance()
        info["engine_args"] = self.engine_args
        return info
