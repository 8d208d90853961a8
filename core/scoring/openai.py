"""The ``openai`` scorer: ``/v1/completions`` with ``echo`` and ``logprobs``, nothing generated.

Each request carries a batch of prompts as token ids (prompt and completion tokenised apart
and joined, as every scorer does: :func:`~.base.split_ids`), with ``echo=True``,
``logprobs=0`` and ``max_tokens=0`` (``1`` where a server refuses 0), so the server returns
the log-probability of every prompt token given the tokens before it; the completion's part is
summed. vLLM's server also returns ``prompt_logprobs`` keyed by token id, used where present.
Servers give no full distribution here, so ``mean_entropy`` stays None.

The tokenizer is the server's own (``/tokenize``, which vLLM serves) unless a local one is
named; a server without echo and logprobs (OpenAI's current models) is refused with one line.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reachscope.store.scores import ScoreIn

from ..backends.openai_backend import _Fatal, _Retryable, _v1, post_json
from .base import ScoreItem, Scorer, ScoringError, failed, prepare, summarize

if TYPE_CHECKING:
    import aiohttp


class OpenAIScorer(Scorer):
    """Score through an OpenAI-compatible server (``vllm serve``) that echoes prompt logprobs.

    Args:
        model: the served model name (as in ``/v1/models``).
        base_url: server root, e.g. ``http://127.0.0.1:8000/v1`` (``/v1`` added if missing).
        api_key: sent as a bearer token when given.
        tokenizer: a local tokenizer (directory or hub name) instead of the server's
            ``/tokenize``.
        request_batch: prompts per HTTP request.
        concurrency: requests in flight.
        timeout_s: limit on one HTTP request.
        max_retries: tries after the first (429, 5xx, timeouts, refused connections).
        max_backoff_s: ceiling of the exponential backoff between tries.
    """

    name = "openai"

    def __init__(self, model: str, base_url: str, api_key: str | None = None,
                 tokenizer: str | None = None, request_batch: int = 16, concurrency: int = 4,
                 timeout_s: float = 600.0, max_retries: int = 6,
                 max_backoff_s: float = 30.0) -> None:
        super().__init__(model)
        self.url = _v1(base_url)
        self.root = self.url[: -len("/v1")]
        self.api_key = api_key
        self.tokenizer_name = tokenizer
        self.request_batch = max(1, request_batch)
        self.concurrency = max(1, concurrency)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_backoff_s = max_backoff_s
        self.max_tokens = 0
        self.context: int | None = None
        self._local: Any = None
        self._ids: dict[tuple[str, bool], list[int]] = {}
        self._opened = False

    # -- setup -------------------------------------------------------------------------------

    def open(self) -> None:
        """Check the server: model served, a tokenizer, and prompt logprobs with echo."""
        asyncio.run(self._open())

    async def _open(self) -> None:
        async with self._session() as session:
            self.context = await self._served(session)
            if self.tokenizer_name:
                self._load_local(self.tokenizer_name)
            elif not await self._has_tokenize(session):
                self._load_local(self.model, "the server has no /tokenize; ")
            probe = await self._tokenize_all(session, [("1 + 1 = 2", True)])
            await self._probe(session, probe[("1 + 1 = 2", True)])
        self._opened = True

    async def _served(self, session: aiohttp.ClientSession) -> int | None:
        try:
            body = await self._get(session, f"{self.url}/models")
        except _Retryable as exc:
            raise ScoringError(f"openai scorer: cannot reach the server ({exc})") from exc
        except _Fatal as exc:
            raise ScoringError(f"openai scorer: {exc}") from exc
        models = [m for m in body.get("data", []) if isinstance(m, dict)]
        mine = next((m for m in models if m.get("id") == self.model), None)
        if mine is None:
            served = ", ".join(str(m.get("id")) for m in models)
            raise ScoringError(f"{self.url}: model {self.model!r} is not served; served: {served}")
        context = mine.get("max_model_len")
        return int(context) if context else None

    def _load_local(self, name: str, why: str = "") -> None:
        try:
            from transformers import AutoTokenizer

            self._local = AutoTokenizer.from_pretrained(name)
        except (ImportError, OSError, ValueError) as exc:
            raise ScoringError(f"openai scorer: {why}cannot load tokenizer {name!r} ({exc}); "
                               "give the served model's tokenizer with --tokenizer PATH") from exc

    async def _has_tokenize(self, session: aiohttp.ClientSession) -> bool:
        try:
            await self._post(session, f"{self.root}/tokenize",
                             {"model": self.model, "prompt": "1", "add_special_tokens": True})
        except ScoringError:
            return False
        return True

    async def _probe(self, session: aiohttp.ClientSession, ids: list[int]) -> None:
        """Find a ``max_tokens`` the server accepts with echo, and check it echoes logprobs."""
        errors = []
        for max_tokens in (0, 1):
            self.max_tokens = max_tokens
            try:
                data = await self._post(session, f"{self.url}/completions",
                                        self._body([ids]))
            except ScoringError as exc:
                errors.append(str(exc))
                continue
            choices = data.get("choices") or [{}]
            if len(_prompt_logprobs(choices[0], ids)) == len(ids):
                return
            errors.append("no log-probabilities of the prompt tokens in the answer")
        raise ScoringError(f"{self.url}: the server does not score prompts (completions with "
                           f"echo and logprobs): {errors[-1]}")

    # -- scoring -----------------------------------------------------------------------------

    def score(self, items: Sequence[ScoreItem]) -> list[ScoreIn]:
        if not self._opened:
            raise ScoringError("openai: score() before open()")
        return asyncio.run(self._score(items))

    async def _score(self, items: Sequence[ScoreItem]) -> list[ScoreIn]:
        async with self._session() as session:
            wanted = [(i.prompt, i.add_special_tokens) for i in items] + \
                [(i.completion, False) for i in items]
            ids = await self._tokenize_all(session, wanted)
            limit = self.context - 1 if self.context else None  # one position is generated
            out, todo = prepare(_Known(ids), items, limit)
            batches = [todo[s:s + self.request_batch]
                       for s in range(0, len(todo), self.request_batch)]
            gate = asyncio.Semaphore(self.concurrency)

            async def one(batch: list[tuple[int, list[int], int]]) -> None:
                async with gate:
                    for i, score in zip((i for i, _, _ in batch),
                                        await self._score_batch(session, items, batch)):
                        out[i] = score

            await asyncio.gather(*(one(b) for b in batches))
        return [out[i] for i in range(len(items))]

    async def _score_batch(self, session: aiohttp.ClientSession, items: Sequence[ScoreItem],
                           batch: list[tuple[int, list[int], int]]) -> list[ScoreIn]:
        """Scores of one request's prompts. A request the server rejects is split into one
        request per prompt, and a prompt rejected alone is stored as failed; a server that stays
        unreachable raises (nothing of the batch is written, a rerun resumes)."""
        try:
            data = await self._post(session, f"{self.url}/completions",
                                    self._body([ids for _, ids, _ in batch]))
        except _Rejected as exc:
            if len(batch) == 1:
                return [failed(items[batch[0][0]].key, str(exc))]
            singles = await asyncio.gather(*(self._score_batch(session, items, [row])
                                             for row in batch))
            return [s for one in singles for s in one]
        choices = sorted(data.get("choices", []), key=lambda c: c.get("index", 0))
        if len(choices) != len(batch):
            return [failed(items[i].key, f"server returned {len(choices)} choices for "
                                         f"{len(batch)} prompts") for i, _, _ in batch]
        out = []
        for (i, ids, n), choice in zip(batch, choices):
            logprobs = _prompt_logprobs(choice, ids)
            mine = [float(lp) for lp in logprobs[len(ids) - n:] if lp is not None]
            if len(logprobs) != len(ids) or len(mine) != n:
                out.append(failed(items[i].key, f"server returned {len(logprobs)} prompt "
                                                f"log-probabilities for {len(ids)} tokens"))
            else:
                out.append(summarize(items[i].key, mine))
        return out

    def _body(self, prompts: list[list[int]]) -> dict[str, Any]:
        return {"model": self.model, "prompt": prompts, "echo": True, "logprobs": 0,
                "max_tokens": self.max_tokens, "temperature": 0.0}

    # -- tokenisation ------------------------------------------------------------------------

    async def _tokenize_all(self, session: aiohttp.ClientSession,
                            texts: Sequence[tuple[str, bool]]) -> dict[tuple[str, bool], list[int]]:
        """Ids of every (text, add special tokens), through a cache (prompts repeat)."""
        if len(self._ids) > 100_000:  # completions are seen once: bound the cache
            self._ids.clear()
        missing = list(dict.fromkeys(t for t in texts if t not in self._ids))
        if self._local is not None:
            for text, special in missing:
                self._ids[(text, special)] = list(
                    self._local(text, add_special_tokens=special)["input_ids"])
        else:
            gate = asyncio.Semaphore(self.concurrency * 4)

            async def one(text: str, special: bool) -> None:
                async with gate:
                    data = await self._post(session, f"{self.root}/tokenize", {
                        "model": self.model, "prompt": text, "add_special_tokens": special})
                self._ids[(text, special)] = [int(t) for t in data["tokens"]]

            await asyncio.gather(*(one(t, s) for t, s in missing))
        return {t: self._ids[t] for t in texts}

    # -- HTTP --------------------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        import aiohttp

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return aiohttp.ClientSession(headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                                     connector=aiohttp.TCPConnector(limit=self.concurrency * 4))

    async def _get(self, session: aiohttp.ClientSession, url: str) -> Any:
        import aiohttp

        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=30)) as r:
                if r.status in (401, 403):
                    raise _Fatal(f"{url}: API key rejected (HTTP {r.status})", r.status)
                if r.status != 200:
                    raise _Fatal(f"{url}: HTTP {r.status}; is this an OpenAI-compatible "
                                 "server?", r.status)
                return await r.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _Retryable(str(exc) or type(exc).__name__) from exc

    async def _post(self, session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Any:
        """POST with retries and exponential backoff.

        Raises:
            _Rejected: a status another try will not fix.
            ScoringError: every try failed (server down, overloaded or too slow).
        """
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                return await post_json(session, url, body)
            except _Retryable as exc:
                last = str(exc)
                await asyncio.sleep(min(self.max_backoff_s, 0.5 * 2**attempt)
                                    * (0.5 + random.random()))
            except _Fatal as exc:
                raise _Rejected(str(exc)) from exc
        raise ScoringError(f"openai scorer: gave up after {self.max_retries + 1} tries: {last}")

    def provenance(self) -> dict[str, Any]:
        info = super().provenance()
        info.update(base_url=self.url, max_tokens=self.max_tokens, context=self.context,
                    tokenizer=self.tokenizer_name or ("local " + self.model if self._local
                                                      else "server /tokenize"))
        return info


class _Rejected(ScoringError):
    """The server answered a request with an error status another try will not fix."""


class _Known:
    """A tokenizer-shaped view of ids already fetched (what :func:`~.base.prepare` calls)."""

    def __init__(self, ids: dict[tuple[str, bool], list[int]]) -> None:
        self.ids = ids

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": self.ids[(text, add_special_tokens)]}


def _prompt_logprobs(choice: dict[str, Any], ids: list[int]) -> list[float | None]:
    """Per prompt position, the log-probability of its token (None at the first).

    vLLM's ``prompt_logprobs`` (keyed by token id) where present, else the echoed
    ``logprobs.token_logprobs``, cut to the prompt.
    """
    rows = choice.get("prompt_logprobs")
    if isinstance(rows, list) and len(rows) == len(ids):
        out: list[float | None] = [None]
        for token, row in zip(ids[1:], rows[1:]):
            entry = (row or {}).get(str(token))
            out.append(None if entry is None else float(entry["logprob"]))
        return out
    echoed = (choice.get("logprobs") or {}).get("token_logprobs") or []
    return list(echoed[: len(ids)])
