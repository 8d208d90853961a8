"""Sampling backends by name: where each lives, and what its class declares (options, limits).

A new backend is one module in this package, whose class declares ``name``, ``description``,
``options`` and ``max_request_n`` (see :class:`~.base.Backend`), plus one line in
:data:`REGISTRY`. ``reachscope sample`` builds its ``--backend`` choices and backend options from
here, and :func:`make_backend` builds the backend.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .base import Backend, BackendError, BackendOption

#: backend name -> ``"module:Class"`` in this package (imported on first use), or the class.
REGISTRY: dict[str, str | type[Backend]] = {
    "vllm": "vllm_backend:VLLMBackend",
    "openai": "openai_backend:OpenAIBackend",
    "hf": "hf_backend:HFBackend",
    "ray": "ray_backend:RayBackend",
}


class BackendOptionError(BackendError):
    """Options that do not fit the chosen backend (not its own, or a required one missing)."""


def backend_names() -> tuple[str, ...]:
    """The registered backend names, in registry order."""
    return tuple(REGISTRY)


def backend_class(name: str) -> type[Backend]:
    """The class of backend ``name``.

    Raises:
        BackendError: no backend of that name.
    """
    entry = REGISTRY.get(name)
    if entry is None:
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(REGISTRY)}")
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        cls: type[Backend] = getattr(importlib.import_module(f".{module}", __package__), attr)
    else:
        cls = entry
    if cls.name != name:
        raise BackendError(f"backend {name!r} is registered with a class named {cls.name!r}")
    return cls


def make_backend(name: str, model: str, options: Mapping[str, Any] | None = None) -> Backend:
    """Build the backend ``name`` for ``model``.

    Args:
        name: a registered name (:func:`backend_names`).
        model: path or name of the model (for ``openai``, the served model name).
        options: constructor keyword arguments (``tensor_parallel_size``, ``base_urls``,
            ``device``...); unknown ones raise :class:`BackendError`.
    """
    cls = backend_class(name)
    try:
        return cls(model, **dict(options or {}))
    except TypeError as exc:
        raise BackendError(f"{name} backend: {exc}") from exc


@dataclass(frozen=True)
class CliOption:
    """One command-line option, shared by the backends that declare it.

    Attributes:
        option: the first declaration (type, repetition, environment variable).
        backends: the backends that declare it, in registry order.
        default: the constructor default, where every declaring backend has the same one.
    """

    option: BackendOption
    backends: tuple[str, ...]
    default: Any = None

    @property
    def help(self) -> str:
        """``"vllm/hf: model dtype (default auto)"``."""
        text = f"{'/'.join(self.backends)}: {self.option.help}"
        return text if self.default is None else f"{text} (default {self.default})"


def cli_options() -> list[CliOption]:
    """Every registered backend's options, one entry per option name, in declaration order.

    Raises:
        BackendError: two backends declare one name differently (type, repetition,
            environment variable or secrecy).
    """
    declared: dict[str, list[tuple[str, BackendOption, Any]]] = {}
    for name, cls, opt in _declarations():
        declared.setdefault(opt.name, []).append((name, opt, _default(cls, opt.keyword)))
    out = []
    for decls in declared.values():
        first_backend, first, _ = decls[0]
        for backend, opt, _ in decls[1:]:
            if _shape(opt) != _shape(first):
                raise BackendError(f"backend {backend!r} declares {opt.flag} unlike "
                                   f"{first_backend!r} (type, multiple, envvar or secret)")
        defaults = {repr(d) for _, _, d in decls}
        default = decls[0][2] if len(defaults) == 1 else None
        out.append(CliOption(first, tuple(b for b, _, _ in decls), default))
    return out


def backend_kwargs(name: str, values: Mapping[str, Any], run_seed: int) -> dict[str, Any]:
    """The constructor keywords of backend ``name`` from command-line option values.

    Args:
        name: the chosen backend.
        values: option name -> value for every backend option (None, ``()`` or ``[]`` where not
            given); names that are no backend's option are ignored.
        run_seed: the run's ``--seed``, passed to backends that take an engine seed.

    Raises:
        BackendError: unknown backend.
        BackendOptionError: an option of another backend was given, or a required one is missing.
    """
    cls = backend_class(name)
    own = {opt.name: opt for opt in cls.options}
    out: dict[str, Any] = {}
    for cli in cli_options():
        value = values.get(cli.option.name)
        if value in (None, (), []):
            continue
        opt = own.get(cli.option.name)
        if opt is None:
            raise BackendOptionError(f"{cli.option.flag} applies to {'/'.join(cli.backends)}")
        out[opt.keyword] = list(value) if isinstance(value, (list, tuple)) else value
    for opt in own.values():
        if opt.required and opt.keyword not in out:
            raise BackendOptionError(f"the {name} backend needs {opt.flag}")
    if cls.run_seed_param is not None:
        out.setdefault(cls.run_seed_param, run_seed)
    return out


def secret_params() -> frozenset[str]:
    """Constructor keywords any backend declares secret: never stored with a run."""
    return frozenset(opt.keyword for _, _, opt in _declarations() if opt.secret)


def secret_flags() -> tuple[str, ...]:
    """Command-line flags any backend declares secret: their values are hidden in stored argv."""
    return tuple(dict.fromkeys(opt.flag for _, _, opt in _declarations() if opt.secret))


def _declarations() -> Iterator[tuple[str, type[Backend], BackendOption]]:
    for name in REGISTRY:
        cls = backend_class(name)
        for opt in cls.options:
            yield name, cls, opt


def _shape(opt: BackendOption) -> tuple[Any, ...]:
    """What backends sharing an option name must agree on."""
    return opt.type, opt.multiple, opt.envvar, opt.secret


def _default(cls: type[Backend], keyword: str) -> Any:
    """The constructor default of ``keyword`` (None where it has none)."""
    param = inspect.signature(cls.__init__).parameters.get(keyword)
    if param is None or param.default is inspect.Parameter.empty:
        return None
    return param.default
