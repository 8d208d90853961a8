"""The ray backend's engine stage: a Ray Data callable class holding one vLLM engine.

Each replica is a Ray Data actor (``map_batches`` with an actor pool) that starts one
``AsyncLLMEngine`` and runs every row of the batches it is handed as one request (``n=1``, the
row's own seed), several batches at once, so the engine's continuous batching stays full across
batch boundaries. It takes prompts as text and returns text, token counts and vLLM's finish
reason; a request vLLM rejects comes back as that row's ``error`` instead of failing the batch.

Used instead of Ray Data LLM's ``build_processor``: ``ray[llm]`` 2.60 is built for vllm 0.29,
and with vllm 0.32 its engine stage is wrapped in per-block preprocess and postprocess tasks
and needs vLLM imported on the driver too (see the README's Ray section for what that cost).

This module imports nothing of reachscope: the backend ships it to the nodes by value, so a node
needs only Ray and vLLM.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

#: Columns of the engine stage's output batches.
OUT_COLUMNS = ("key", "idx", "seed", "text", "tokens", "finish", "error")


class VLLMReplica:
    """One vLLM engine on a node; ``__call__`` generates one batch of sample rows.

    Args:
        model: model directory (the same path on every node) or hub name.
        engine_args: ``AsyncEngineArgs`` keyword arguments.
        params: sampling parameters shared by every row (temperature, top_p, top_k, max_tokens).
    """

    def __init__(self, model: str, engine_args: dict[str, Any], params: dict[str, Any]) -> None:
        from vllm import AsyncEngineArgs, AsyncLLMEngine

        self._engine = AsyncLLMEngine.from_engine_args(AsyncEngineArgs(model=model,
                                                                       **engine_args))
        self._params = dict(params)
        self._rejected = _request_errors()
        self._next = 0

    async def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        outs = await asyncio.gather(*(self._one(str(prompt), int(seed))
                                      for prompt, seed in zip(batch["prompt"], batch["seed"])))
        text, tokens, finish, error = zip(*outs) if outs else ((), (), (), ())
        return {
            "key": np.asarray(batch["key"]), "idx": np.asarray(batch["idx"]),
            "seed": np.asarray(batch["seed"]),
            "text": np.array(text, dtype=object), "tokens": np.array(tokens, dtype=np.int64),
            "finish": np.array(finish, dtype=object), "error": np.array(error, dtype=object),
        }

    async def _one(self, prompt: str, seed: int) -> tuple[str, int, str, str]:
        """One sample: (text, generated tokens, finish reason, error or "")."""
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        sp = SamplingParams(n=1, seed=None if seed < 0 else seed,
                            output_kind=RequestOutputKind.FINAL_ONLY, **self._params)
        self._next += 1
        request_id = f"rs-{os.getpid()}-{self._next}"
        final = None
        try:
            async for out in self._engine.generate(prompt, sp, request_id):
                final = out
        except self._rejected as exc:  # this request (too long a prompt...), not the engine
            return "", 0, "", one_line(exc)
        if final is None or not final.outputs:
            return "", 0, "", "vllm returned no completion"
        completion = final.outputs[0]
        return completion.text, len(completion.token_ids), completion.finish_reason or "", ""


def _request_errors() -> tuple[type[Exception], ...]:
    """Exceptions with which vLLM rejects one request (not the engine)."""
    try:
        from vllm.exceptions import VLLMClientError
    except ImportError:  # older vLLM raised ValueError only
        return (ValueError,)
    return (ValueError, VLLMClientError)


def one_line(exc: BaseException | str) -> str:
    """The last non-blank line of an error (Ray and vLLM put the cause last), at most 500
    characters; the backend uses it for its own messages too."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:500]
