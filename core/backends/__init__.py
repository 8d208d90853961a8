"""Sampling backends behind one interface; heavy imports happen only in the one chosen.

Backends are found through :mod:`.registry`, which reads what each class declares.
"""

from __future__ import annotations

from .base import (
    Backend,
    BackendError,
    BackendOption,
    Completion,
    GenerationParams,
    Request,
    RequestResult,
)
from .registry import BackendOptionError, backend_class, backend_names, make_backend

__all__ = [
    "Backend",
    "BackendError",
    "BackendOption",
    "BackendOptionError",
    "Completion",
    "GenerationParams",
    "Request",
    "RequestResult",
    "backend_class",
    "backend_names",
    "make_backend",
]
