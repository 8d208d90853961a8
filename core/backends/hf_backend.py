"""The ``hf`` backend: transformers ``generate`` with ``num_return_sequences``, batched."""

from __future__ import annotations

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
    model_config_hash,
    package_versions,
    torch_gpu_name,
)


def load_causal_lm(model: str, device_spec: str, dtype_spec: str) -> tuple[Any, Any, str]:
    """(tokenizer, model in eval mode on its device, device) for a transformers causal LM.

    ``auto`` picks CUDA where there is one, else the CPU, and bfloat16 on CUDA, float32 on CPU.

    Raises:
        OSError, ValueError: the model or tokenizer cannot be loaded.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if device_spec == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    else:
        device = device_spec
    if dtype_spec == "auto":
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    else:
        dtype = getattr(torch, dtype_spec)
    tokenizer = AutoTokenizer.from_pretrained(model)
    loaded: Any = AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
    loaded.to(device).eval()
    return tokenizer, loaded, device


class HFBackend(Backend):
    """Sample with a transformers causal LM on CPU or CUDA.

    Prompts are batched (left padded) so that ``batch_size`` rows, counting every return
    sequence, decode together. Each ``generate`` call is seeded with its first request's seed, so
    a sample repeats exactly only in the same batch composition (``batch_size`` 1 makes every
    sample reproducible on its own, resumes included).

    Args:
        model: local directory or hub name of the model.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, or ``"auto"`` (CUDA when there is one).
        dtype: torch dtype name, or ``"auto"`` (bfloat16 on CUDA, float32 on CPU).
        batch_size: most sequences (prompts x samples) decoded in one call.
    """

    name = "hf"
    description = "transformers generate, batched, on CPU or CUDA"
    options = (
        BackendOption("dtype", type=str, help="model dtype: auto, bfloat16, float32..."),
        BackendOption("device", type=str, help="cpu, cuda, cuda:N or auto"),
        BackendOption("hf_batch_size", "batch_size", int, "sequences per generate call"),
    )

    def __init__(
        self, model: str, device: str = "auto", dtype: str = "auto", batch_size: int = 64
    ) -> None:
        super().__init__(model)
        self.device_spec = device
        self.dtype_spec = dtype
        self.batch_size = max(1, batch_size)
        #: Requests for more samples than one batch holds are split by the planner.
        self.max_request_n = self.batch_size
        self._model: Any = None
        self._tokenizer: Any = None
        self.device = "cpu"

    def open(self) -> None:
        try:
            self._tokenizer, self._model, self.device = load_causal_lm(
                self.model, self.device_spec, self.dtype_spec)
        except (OSError, ValueError) as exc:
            raise BackendError(f"hf: cannot load model {self.model!r}: {exc}") from exc
        # Decoder-only models continue from the right edge: pad on the left.
        self._tokenizer.padding_side = "left"
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token

    def close(self) -> None:
        self._model = None
        self._tokenizer = None
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        text = self._tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return str(text)

    def generate(
        self, requests: Sequence[Request], params: GenerationParams
    ) -> Iterator[RequestResult]:
        if self._model is None:
            raise BackendError("hf: generate() before open()")
        limit = self._context_limit()
        group: list[tuple[Request, str]] = []
        rows = 0
        for req in requests:
            text = req.prompt if req.prompt is not None else self.render_chat(req.messages or [])
            n_prompt = len(self._tokenizer(text, add_special_tokens=False)["input_ids"])
            if limit is not None and n_prompt + 1 > limit:
                yield RequestResult(
                    req, error=f"prompt of {n_prompt} tokens exceeds the context of {limit}"
                )
                continue
            # Calls decode all return sequences of equal n together; split when n changes.
            if group and (rows + req.n > self.batch_size or req.n != group[0][0].n):
                yield from self._run(group, params, limit)
                group, rows = [], 0
            group.append((req, text))
            rows += req.n
        if group:
            yield from self._run(group, params, limit)

    def _context_limit(self) -> int | None:
        value = getattr(self._model.config, "max_position_embeddings", None)
        return int(value) if value else None

    def _run(
        self,
        group: list[tuple[Request, str]],
        params: GenerationParams,
        limit: int | None,
    ) -> Iterator[RequestResult]:
        import torch

        n = group[0][0].n
        started = time.perf_counter()
        try:
            enc = self._tokenizer(
                [text for _, text in group],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(self.device)
            width = enc["input_ids"].shape[1]
            max_new = params.max_tokens
            if limit is not None:
                max_new = max(1, min(max_new, limit - width))
            seed = group[0][0].seed
            if seed is not None:
                torch.manual_seed(seed)
            kwargs: dict[str, Any] = {
                "max_new_tokens": max_new,
                "num_return_sequences": n,
                "pad_token_id": self._tokenizer.pad_token_id,
            }
            if params.temperature > 0:
                kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p,
                              top_k=params.top_k or 0)
            else:
                kwargs.update(do_sample=False)
            with torch.inference_mode():
                out = self._model.generate(**enc, **kwargs)
        except Exception as exc:  # noqa: BLE001 - CUDA OOM and the like fail these requests only
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            message = f"{type(exc).__name__}: {exc}"
            for req, _ in group:
                yield RequestResult(req, error=message)
            return
        latency = time.perf_counter() - started
        new = out[:, width:].tolist()
        eos_ids = _eos_ids(self._model, self._tokenizer)
        for i, (req, _) in enumerate(group):
            completions = []
            for row in new[i * n:(i + 1) * n]:
                completions.append(_completion(self._tokenizer, row, eos_ids, max_new))
            yield RequestResult(req, completions, latency_s=latency)

    def provenance(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model,
            "model_config_sha256": model_config_hash(self.model),
            # The hub commit the files came from (None for a plain local directory).
            "revision": getattr(getattr(self._model, "config", None), "_commit_hash", None),
            "device": self.device,
            "dtype": self.dtype_spec,
            "batch_size": self.batch_size,
            "gpu": torch_gpu_name(),
            "versions": package_versions(),
        }


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    for source in (model.generation_config, model.config):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(v for v in value if isinstance(v, int))
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def _completion(tokenizer: Any, row: list[int], eos_ids: set[int], max_new: int) -> Completion:
    """Cut a generated row at its first end token (rows are right padded to the longest)."""
    finish = "length"
    for i, token in enumerate(row):
        if token in eos_ids:
            row = row[:i]
            finish = "stop"
            break
    else:
        if len(row) < max_new:
            finish = "stop"
    return Completion(
        tokenizer.decode(row, skip_special_tokens=True), n_tokens=len(row), finish_reason=finish
    )
