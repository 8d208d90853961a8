"""The ``openai`` backend: OpenAI-compatible servers (``vllm serve``, SGLang, ...) over HTTP.

Requests go to ``/v1/completions`` (raw prompts) or ``/v1/chat/completions`` (chat messages) with
``n`` samples each, concurrently up to a limit, spread over one or more base URLs (the least busy
healthy one gets the next request). 429, 5xx, timeouts and refused connections are retried with
exponential backoff, on another URL where there is one, so a server restarted mid-run only delays
its requests.
"""

from __future__ import annotations

import asyncio
import queue
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .base import (
    Backend,
    BackendError,
    BackendOption,
    Completion,
    GenerationParams,
    Request,
    RequestResult,
    SampleLogprobs,
    package_versions,
    sample_logprobs,
)

if TYPE_CHECKING:
    import aiohttp

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class _Retryable(Exception):
    """A failure worth another try (server busy, down or slow)."""


@dataclass
class _Endpoint:
    url: str
    in_flight: int = 0
    down_until: float = 0.0


class OpenAIBackend(Backend):
    """Sample from OpenAI-compatible servers.

    Args:
        model: the model name the servers serve (as in ``/v1/models``).
        base_urls: server roots, e.g. ``http://127.0.0.1:8000/v1`` (``/v1`` added if missing).
        api_key: sent as a bearer token when given.
        concurrency: most requests in flight over all servers.
        timeout_s: limit on one HTTP request.
        max_retries: tries after the first before a request is reported failed.
        max_backoff_s: ceiling of the exponential backoff between tries.
    """

    name = "openai"
    description = "OpenAI-compatible servers (vllm serve, SGLang, ...) over HTTP"
    gives_logprobs = True
    options = (
        BackendOption("base_url", "base_urls", str, "server URL (repeat to balance)",
                      multiple=True, required=True),
        BackendOption("api_key", type=str, help="API key", envvar="OPENAI_API_KEY", secret=True),
        BackendOption("concurrency", type=int, help="requests in flight"),
        BackendOption("max_retries", type=int, help="tries after the first"),
        BackendOption("request_timeout", "timeout_s", float, "seconds per request"),
    )

    def __init__(
        self,
        model: str,
        base_urls: Sequence[str],
        api_key: str | None = None,
        concurrency: int = 32,
        timeout_s: float = 3600.0,
        max_retries: int = 10,
        max_backoff_s: float = 30.0,
    ) -> None:
        super().__init__(model)
        if not base_urls:
            raise BackendError("openai backend: give at least one --base-url")
        self.base_urls = [_v1(u) for u in base_urls]
        self.api_key = api_key
        self.concurrency = max(1, concurrency)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_backoff_s = max_backoff_s
        self._served: dict[str, Any] = {}

    def open(self) -> None:
        """Check every server: reachable, key accepted, model served."""
        self._served = asyncio.run(self._check_all())

    async def _check_all(self) -> dict[str, Any]:
        async with self._session() as session:
            found = await asyncio.gather(*(self._check(session, u) for u in self.base_urls))
        return dict(zip(self.base_urls, found))

    async def _check(self, session: aiohttp.ClientSession, url: str) -> Any:
        import aiohttp

        try:
            async with session.get(f"{url}/models", timeout=aiohttp.ClientTimeout(total=30)) as r:
                if r.status in (401, 403):
                    raise BackendError(f"{url}: API key rejected (HTTP {r.status})")
                if r.status != 200:
                    raise BackendError(
                        f"{url}/models: HTTP {r.status}; is this an OpenAI-compatible server?"
                    )
                body = await r.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError) as exc:
            reason = str(exc) or type(exc).__name__
            raise BackendError(f"{url}: cannot reach the server ({reason})") from exc
        ids = [m.get("id") for m in body.get("data", []) if isinstance(m, dict)]
        if self.model not in ids:
            raise BackendError(
                f"{url}: model {self.model!r} is not served; served: {', '.join(map(str, ids))}"
            )
        return next(m for m in body["data"] if m.get("id") == self.model)

    def _session(self) -> aiohttp.ClientSession:
        import aiohttp

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            connector=aiohttp.TCPConnector(limit=self.concurrency),
        )

    def generate(
        self, requests: Sequence[Request], params: GenerationParams
    ) -> Iterator[RequestResult]:
        results: queue.Queue[RequestResult | None] = queue.Queue()
        loop = asyncio.new_event_loop()
        main: list[asyncio.Task[None]] = []

        async def run_all() -> None:
            endpoints = [_Endpoint(u) for u in self.base_urls]
            gate = asyncio.Semaphore(self.concurrency)
            async with self._session() as session:

                async def one(req: Request) -> None:
                    async with gate:
                        results.put(await self._request(session, endpoints, req, params))

                await asyncio.gather(*(one(r) for r in requests))

        def thread_main() -> None:
            try:
                task = loop.create_task(run_all())
                main.append(task)
                loop.run_until_complete(task)
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - reported below
                pass
            finally:
                loop.close()
                results.put(None)

        worker = threading.Thread(target=thread_main, name="openai-backend", daemon=True)
        worker.start()
        try:
            while (item := results.get()) is not None:
                yield item
        finally:
            # Consumer stopped early (Ctrl-C): cancel what is in flight and let the loop end.
            if worker.is_alive() and main:
                try:
                    loop.call_soon_threadsafe(main[0].cancel)
                except RuntimeError:  # the loop closed in between: nothing left to cancel
                    pass
            worker.join(timeout=10)

    async def _request(
        self,
        session: aiohttp.ClientSession,
        endpoints: list[_Endpoint],
        req: Request,
        params: GenerationParams,
    ) -> RequestResult:
        chat = req.messages is not None
        body: dict[str, Any] = {
            "model": self.model,
            "n": req.n,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if params.top_k:
            body["top_k"] = params.top_k
        if req.seed is not None:
            body["seed"] = req.seed
        if params.logprobs and chat:
            body.update(logprobs=True, top_logprobs=params.logprobs)
        elif params.logprobs:
            body["logprobs"] = params.logprobs
        if chat:
            body["messages"] = req.messages
        else:
            body["prompt"] = req.prompt
        path = "/chat/completions" if chat else "/completions"
        started = time.perf_counter()
        last = ""
        for attempt in range(self.max_retries + 1):
            ep = _pick(endpoints)
            wait = ep.down_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            ep.in_flight += 1
            try:
                data = await post_json(session, ep.url + path, body)
            except _Retryable as exc:
                last = str(exc)
                delay = min(self.max_backoff_s, 0.5 * 2**attempt) * (0.5 + random.random())
                ep.down_until = max(ep.down_until, time.monotonic() + delay)
                continue
            except _Fatal as exc:
                return RequestResult(req, error=str(exc), latency_s=time.perf_counter() - started)
            finally:
                ep.in_flight -= 1
            return _result(req, data, chat, time.perf_counter() - started, params.logprobs)
        return RequestResult(
            req,
            error=f"gave up after {self.max_retries + 1} tries: {last}",
            latency_s=time.perf_counter() - started,
        )

    def provenance(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model,
            "base_urls": self.base_urls,
            "served": self._served,
            "concurrency": self.concurrency,
            "versions": package_versions(),
        }


class _Fatal(Exception):
    """A failure another try will not fix (prompt too long, unknown model)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


async def post_json(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Any:
    """POST ``body`` and return the decoded answer.

    Raises:
        _Retryable: a status worth another try (429, 5xx...), a timeout or a lost connection.
        _Fatal: any other status (its ``status`` is set), with the server's message.
    """
    import aiohttp

    try:
        async with session.post(url, json=body) as r:
            text = await r.text()
            if r.status == 200:
                import json

                return json.loads(text)
            if r.status in _RETRY_STATUS:
                raise _Retryable(f"{url}: HTTP {r.status}: {text[:200]}")
            raise _Fatal(f"{url}: HTTP {r.status}: {_error_message(text)}", r.status)
    except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
        raise _Retryable(f"{url}: {type(exc).__name__}: {exc}") from exc


def _v1(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


def _pick(endpoints: list[_Endpoint]) -> _Endpoint:
    now = time.monotonic()
    up = [e for e in endpoints if e.down_until <= now]
    pool = up or sorted(endpoints, key=lambda e: e.down_until)[:1]
    return min(pool, key=lambda e: e.in_flight)


def _error_message(text: str) -> str:
    import json

    try:
        body = json.loads(text)
    except ValueError:
        return text[:300]
    err = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(err, dict):
        return str(err.get("message", err))[:300]
    return str(err)[:300]


def _result(req: Request, data: Any, chat: bool, latency: float,
            k: int | None = None) -> RequestResult:
    choices = sorted(data.get("choices", []), key=lambda c: c.get("index", 0))
    if len(choices) != req.n:
        return RequestResult(
            req, error=f"server returned {len(choices)} choices for n={req.n}", latency_s=latency
        )
    usage = data.get("usage") or {}
    total = usage.get("completion_tokens")
    completions = []
    for c in choices:
        text = (c.get("message") or {}).get("content") if chat else c.get("text")
        completions.append(
            Completion(
                text or "",
                # Servers report tokens per request, not per choice.
                n_tokens=total if req.n == 1 else None,
                finish_reason=c.get("finish_reason"),
                logprobs=_logprobs(c, chat, k),
            )
        )
    return RequestResult(req, completions, latency_s=latency, total_tokens=total)


def _logprobs(choice: dict[str, Any], chat: bool, k: int | None) -> SampleLogprobs | None:
    """The generator's log-likelihood of one choice, from the ``logprobs`` the server returned.

    Top log-probabilities come keyed by token text, so two tokens with the same text count
    once; the ``k`` largest enter the entropy (servers add the sampled token beside them). The
    last token is left out where the choice stopped on EOS or a stop token id, as vLLM's servers
    report it (``stop_reason`` null or an id); after a stop string nothing is reported.
    """
    info = choice.get("logprobs")
    if not k or not isinstance(info, dict) or isinstance(choice.get("stop_reason"), str):
        return None
    if chat:
        rows = info.get("content") or []
        chosen = [r.get("logprob") for r in rows]
        tops = [sorted((t["logprob"] for t in r.get("top_logprobs") or []), reverse=True)[:k]
                for r in rows]
    else:
        chosen = info.get("token_logprobs") or []
        tops = [sorted((d or {}).values(), reverse=True)[:k]
                for d in info.get("top_logprobs") or []]
    if any(lp is None for lp in chosen):
        return None
    return sample_logprobs([float(lp) for lp in chosen], tops,
                           drop_last=choice.get("finish_reason") == "stop")
