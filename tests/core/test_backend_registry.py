"""The backend registry: a backend registered in one place reaches `sample --help`, make_backend
and a real sampling run; unknown backends and misplaced options are one-line errors."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner
from reachscope.core.backends import (
    Backend,
    BackendError,
    BackendOption,
    Completion,
    GenerationParams,
    Request,
    RequestResult,
    backend_class,
    backend_names,
    make_backend,
    registry,
)
from reachscope.core.cli import cli
from reachscope.core.prompts import load_template
from reachscope.core.sampling import redact_argv, run_params
from reachscope.core.sampling.config import ModelSpec, SampleConfig
from reachscope.store import open_db
from reachscope.store.runs import get_run
from reachscope.store.samples import sample_index_stats, sample_texts

#: Every request an EchoBackend was asked for, in order (cleared per test).
SEEN: list[Request] = []


class EchoBackend(Backend):
    """A test backend (no model): each completion names its problem key and sample index."""

    name = "echo"
    description = "test backend that echoes sample indices"
    options = (
        BackendOption("echo_prefix", "prefix", str, "text before each completion"),
        BackendOption("echo_most", "most", int, "most samples per request"),
        BackendOption("echo_token", "token", str, "a credential", secret=True),
    )

    def __init__(self, model: str, prefix: str = "echo", most: int = 3,
                 token: str | None = None) -> None:
        super().__init__(model)
        self.prefix = prefix
        self.token = token
        self.max_request_n = most

    def generate(
        self, requests: Sequence[Request], params: GenerationParams
    ) -> Iterator[RequestResult]:
        for req in requests:
            SEEN.append(req)
            yield RequestResult(req, [Completion(f"{self.prefix} {req.key}:{req.start + i}", 1,
                                                 "stop") for i in range(req.n)])


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> type[EchoBackend]:
    """EchoBackend registered, the one line a new backend adds (undone after the test)."""
    monkeypatch.setitem(registry.REGISTRY, "echo", EchoBackend)
    SEEN.clear()
    return EchoBackend


def test_help_lists_a_registered_backend_and_its_options(echo: type[EchoBackend]) -> None:
    result = CliRunner().invoke(cli, ["sample", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "[vllm|openai|hf|ray|echo]" in result.output
    assert "echo, test backend that echoes sample indices" in result.output
    line = next(ln for ln in result.output.splitlines() if "--echo-most" in ln)
    assert "INTEGER" in line and "echo: most samples per request (default 3)" in line
    assert "--tp" in result.output  # the built-in backends' options are still there


def test_help_without_it_does_not_list_it() -> None:
    result = CliRunner().invoke(cli, ["sample", "--help"], terminal_width=200)
    assert result.exit_code == 0 and "--echo-most" not in result.output
    assert "echo" not in backend_names()


def test_make_backend_builds_it_with_its_options(echo: type[EchoBackend]) -> None:
    backend = make_backend("echo", "m", registry.backend_kwargs(
        "echo", {"echo_prefix": ">", "echo_most": 2, "tp": None}, run_seed=0))
    assert isinstance(backend, EchoBackend)
    assert (backend.model, backend.prefix, backend.max_request_n) == ("m", ">", 2)
    with pytest.raises(BackendError, match="echo backend: .*unexpected keyword.*width"):
        make_backend("echo", "m", {"width": 3})


def test_sampling_through_the_cli_uses_its_options_and_limit(
    echo: type[EchoBackend], tmp_path: Path, math_file: Path
) -> None:
    db = tmp_path / "r.db"

    def sample(*extra: str) -> None:
        result = CliRunner().invoke(cli, [
            "sample", "--db", str(db), "--dataset", str(math_file), "--model", "m=unused",
            "--backend", "echo", "--echo-prefix", ">", "--echo-most", "2",
            "--echo-token", "sekrit", "--grader", "none", "--quiet", *extra])
        assert result.exit_code == 0, result.output

    sample("--n", "5")
    assert SEEN and all(r.n <= 2 for r in SEEN)
    conn = open_db(db, read_only=True)
    try:
        run = get_run(conn, "m")
        stats = sample_index_stats(conn, run.id)
        assert sorted(stats.values()) == [(5, 4)] * 4
        for pid in stats:
            texts = set(sample_texts(conn, run.id, pid).values())
            assert texts == {f"> {pid}:{i}" for i in range(5)}
        assert run.backend == "echo"
        assert run.params["backend_options"] == {"prefix": ">", "most": 2}
        assert "sekrit" not in json.dumps(run.params)
    finally:
        conn.close()
    first = {(r.key, r.start + i): r.seed + i for r in SEEN for i in range(r.n)}

    SEEN.clear()
    sample("--n", "7")  # resume: only indices 5 and 6 of each problem
    assert sorted((r.key, r.start, r.n) for r in SEEN) == sorted((pid, 5, 2) for pid in stats)
    # Seeds continue each problem's sequence: sample 5 is sample 0's seed + 5.
    base = {key: seed - idx for (key, idx), seed in first.items()}
    assert all(r.seed == base[r.key] + r.start for r in SEEN)
    assert len(set(base.values())) == len(base)


def test_another_backends_option_is_refused(echo: type[EchoBackend], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [
        "sample", "--db", str(tmp_path / "x.db"), "--dataset", "math500", "--model", "m=x",
        "--backend", "hf", "--echo-most", "2"])
    assert result.exit_code == 2 and "--echo-most applies to echo" in result.output


def test_unknown_backend_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError) as info:
        make_backend("nope", "m")
    assert str(info.value) == "unknown backend 'nope'; choose one of vllm, openai, hf, ray"
    result = CliRunner().invoke(cli, ["sample", "--db", str(tmp_path / "x.db"), "--dataset",
                                      "math500", "--model", "m=x", "--backend", "nope"])
    assert result.exit_code == 2 and "Invalid value for '--backend'" in result.output
    assert "Traceback" not in result.output
    # A run file is not checked by click's choice: the registry says it, before any work.
    run_file = tmp_path / "r.toml"
    run_file.write_text('db = "x.db"\ndataset = "math500"\nmodel = "m=x"\nbackend = "nope"\n')
    result = CliRunner().invoke(cli, ["sample", "--config", str(run_file)])
    assert result.exit_code == 2 and "unknown backend 'nope'" in result.output
    assert not (tmp_path / "x.db").exists() and "Traceback" not in result.output


def test_secret_options_are_kept_out_of_argv_and_params(echo: type[EchoBackend]) -> None:
    argv = ["reachscope", "sample", "--echo-token", "t1", "--echo-token=t2", "--api-key", "k"]
    assert redact_argv(argv) == ["reachscope", "sample", "--echo-token", "***",
                                 "--echo-token=***", "--api-key", "***"]
    config = SampleConfig(db=Path("x.db"), dataset="d", models=[ModelSpec("m", "p")],
                          backend="echo", backend_options={"token": "t1", "most": 2})
    assert run_params(config, load_template("plain"))["backend_options"] == {"most": 2}


def test_an_option_clashing_with_a_sample_option_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    class Clash(EchoBackend):
        name = "clash"
        options = (BackendOption("seed", type=int, help="engine seed"),)

    monkeypatch.setitem(registry.REGISTRY, "clash", Clash)
    result = CliRunner().invoke(cli, ["sample", "--help"])
    assert isinstance(result.exception, RuntimeError)
    assert "--seed, an option of `sample` itself" in str(result.exception)


def test_builtin_declarations_match_their_constructors() -> None:
    assert backend_names() == ("vllm", "openai", "hf", "ray")
    for name in backend_names():
        cls = backend_class(name)
        assert cls.name == name and cls.description and cls.options
        accepted = inspect.signature(cls.__init__).parameters
        for opt in cls.options:
            assert opt.keyword in accepted, f"{name}: {opt.flag} sets unknown {opt.keyword!r}"
    kwargs = registry.backend_kwargs("vllm", {"tp": 2, "dtype": "float32"}, run_seed=9)
    assert kwargs == {"tensor_parallel_size": 2, "dtype": "float32", "seed": 9}
    assert registry.backend_kwargs("hf", {"hf_batch_size": 4, "dtype": "float32"}, 9) == {
        "batch_size": 4, "dtype": "float32"}
    with pytest.raises(registry.BackendOptionError, match="needs --base-url"):
        registry.backend_kwargs("openai", {"base_url": ()}, 0)
