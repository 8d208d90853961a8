"""Prompt templates, model specs, seeds and the sample command's own checks (no model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from reachscope.core.cli import cli
from reachscope.core.prompts import BUILTIN, QWEN_BOXED, TemplateError, load_template
from reachscope.core.sampling import (
    SamplingError,
    parse_model,
    redact_argv,
    sample_seed,
)
from reachscope.core.sampling import index_ranges as _ranges


def test_qwen_boxed_is_the_papers_prompt() -> None:
    text = load_template("qwen-boxed").render("What is $\\frac{1}{2} + {x}$?")
    assert text == (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within "
        "\\boxed{}.<|im_end|>\n<|im_start|>user\nWhat is $\\frac{1}{2} + {x}$?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert BUILTIN["qwen-boxed"] == QWEN_BOXED


def test_plain_and_chat_templates() -> None:
    assert load_template("plain").render("2+2?") == "2+2?"
    chat = load_template("plain", chat=True)
    assert chat.chat and chat.messages("2+2?") == [{"role": "user", "content": "2+2?"}]


def test_template_file(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("Q: {problem}\nA: \\boxed{", encoding="utf-8")
    t = load_template(str(f))
    assert t.render("1+1") == "Q: 1+1\nA: \\boxed{" and t.name == str(f)
    (tmp_path / "bad.txt").write_text("no placeholder")
    with pytest.raises(TemplateError, match="placeholder"):
        load_template(str(tmp_path / "bad.txt"))
    with pytest.raises(TemplateError, match="not a built-in"):
        load_template("nonexistent-template")


def test_parse_model() -> None:
    assert parse_model("base=Qwen/Qwen2.5-7B").label == "base"
    assert parse_model("rl = /m/rl ").path == "/m/rl"
    assert parse_model("/models/qwen-rl/").label == "qwen-rl"
    with pytest.raises(SamplingError):
        parse_model("base=")


def test_seeds_are_consecutive_per_problem_and_fit_int64() -> None:
    a = sample_seed(0, "h1", 0)
    assert sample_seed(0, "h1", 5) == a + 5
    assert sample_seed(0, "h2", 0) != a and sample_seed(1, "h1", 0) != a
    assert 0 <= a < 2**60


def test_missing_indices_become_ranges() -> None:
    assert list(_ranges([0, 1, 2, 5, 7, 8])) == [(0, 3), (5, 1), (7, 2)]
    assert list(_ranges([])) == []


def test_api_key_is_not_stored() -> None:
    argv = ["reachscope", "sample", "--api-key", "sk-1", "--api-key=sk-2", "--n", "4"]
    assert redact_argv(argv) == ["reachscope", "sample", "--api-key", "***", "--api-key=***",
                                 "--n", "4"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "math500", "--model", "m=x"], "missing --db"),
        (["--db", "x.db", "--model", "m=x"], "missing --dataset"),
        (["--db", "x.db", "--dataset", "math500", "--backend", "openai", "--model", "m=x"],
         "needs --base-url"),
        (["--db", "x.db", "--dataset", "math500", "--model", "m=x", "--backend", "hf",
          "--tp", "2"], "--tp applies to vllm"),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["sample", *args])
    assert result.exit_code == 2 and message in result.output


def test_unknown_run_file_key(tmp_path: Path) -> None:
    run_file = tmp_path / "r.toml"
    run_file.write_text('db = "x.db"\ntemprature = 0.6\n')
    result = CliRunner().invoke(cli, ["sample", "--config", str(run_file)])
    assert result.exit_code == 2 and "unknown key(s) temprature" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dataset", "no-such-dataset"], "no-such-dataset"),
        (["--dataset", "math500", "--grader", "nonsense"], "unknown grader"),
        (["--dataset", "math500", "--template", "nonsense"], "not a built-in"),
    ],
)
def test_bad_inputs_are_one_line_errors(tmp_path: Path, extra: list[str], message: str) -> None:
    result = CliRunner().invoke(
        cli, ["sample", "--db", str(tmp_path / "x.db"), "--model", "m=x", "--backend", "hf",
              "--limit", "1", *extra],
    )
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output
