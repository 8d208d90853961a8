"""Sampling backends behind one interface; heavy imports happen only in the one chosen."""

from __future__ import annotations

from typing import Any

from .base import (
    Backend,
    BackendError,
    Completion,
    GenerationParams,
    Request,
    RequestResult,
)

BACKENDS = ("vllm", "openai", "hf")


def make_backend(name: str, model: str, options: dict[str, Any] | None = None) -> Backend:
    """Build the backend ``name`` for ``model``.

    Args:
        name: ``"vllm"``, ``"openai"`` or ``"hf"``.
        model: path or name of the model (for ``openai``, the served model name).
        options: backend keyword arguments (``tensor_parallel_size``, ``base_urls``,
            ``device``...); unknown ones raise :class:`BackendError`.
    """
    options = dict(options or {})
    try:
        if name == "vllm":
            from .vllm_backend import VLLMBackend

            return VLLMBackend(model, **options)
        if name == "openai":
            from .openai_backend import OpenAIBackend

            return OpenAIBackend(model, **options)
        if name == "hf":
            from .hf_backend import HFBackend

            return HFBackend(model, **options)
    except TypeError as exc:
        raise BackendError(f"{name} backend: {exc}") from exc
    raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "Completion",
    "GenerationParams",
    "Request",
    "RequestResult",
    "make_backend",
]
