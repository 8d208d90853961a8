"""The hf backend on the tiny model: n samples per prompt, seeds, batching, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from reachscope.core.backends import BackendError, GenerationParams, Request, make_backend

pytestmark = pytest.mark.slow

PARAMS = GenerationParams(temperature=1.0, top_p=0.95, max_tokens=12)


@pytest.fixture(scope="module")
def backend(tiny_model: Path):
    with make_backend("hf", str(tiny_model), {"device": "cpu", "batch_size": 8}) as b:
        yield b


def test_n_samples_per_request_in_index_order(backend) -> None:
    reqs = [Request(1, 0, 3, seed=7, prompt="What is 1 + 1?"),
            Request(2, 5, 2, seed=9, prompt="Compute 12 * 7.")]
    results = {r.request.key: r for r in backend.generate(reqs, PARAMS)}
    assert set(results) == {1, 2}
    assert [len(results[k].completions) for k in (1, 2)] == [3, 2]
    for r in results.values():
        assert r.error is None and r.latency_s is not None and r.latency_s > 0
        for c in r.completions:
            assert 0 <= (c.n_tokens or 0) <= PARAMS.max_tokens
            assert c.finish_reason in ("stop", "length")
        assert r.tokens == sum(c.n_tokens or 0 for c in r.completions)


def test_same_seed_same_samples(backend) -> None:
    req = [Request(1, 0, 2, seed=123, prompt="Solve 2x + 3 = 11.")]
    first = [c.text for r in backend.generate(req, PARAMS) for c in r.completions]
    again = [c.text for r in backend.generate(req, PARAMS) for c in r.completions]
    assert first == again


def test_requests_over_batch_size_are_split_by_caller(backend) -> None:
    assert backend.max_request_n == 8


def test_chat_messages_use_the_chat_template(backend) -> None:
    text = backend.render_chat([{"role": "user", "content": "hi"}])
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(backend.model)
    assert text == tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                           add_generation_prompt=True)
    assert "hi" in text and text != "hi"
    [res] = backend.generate([Request(3, 0, 1, seed=1, messages=[{"role": "user",
                                                                   "content": "hi"}])], PARAMS)
    assert res.error is None and len(res.completions) == 1


def test_prompt_longer_than_context_fails_that_request_only(backend) -> None:
    reqs = [Request(1, 0, 1, seed=1, prompt="1 + " * 2000), Request(2, 0, 1, seed=1, prompt="1")]
    results = {r.request.key: r for r in backend.generate(reqs, PARAMS)}
    assert results[1].error and "exceeds the context" in results[1].error
    assert results[2].error is None and len(results[2].completions) == 1


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="cannot load model"):
        make_backend("hf", str(tmp_path / "nope"), {"device": "cpu"}).open()


def test_unknown_backend_option_is_a_clear_error(tiny_model: Path) -> None:
    with pytest.raises(BackendError, match="hf backend"):
        make_backend("hf", str(tiny_model), {"tensor_parallel_size": 2})
