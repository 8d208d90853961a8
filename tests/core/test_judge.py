"""The LLM judge's pure parts: rubric files, prompts, and reading labels out of replies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from reachscope.core.judge import (
    Rubric,
    RubricError,
    build_prompt,
    load_rubric,
    parse_reply,
    parse_rubric,
)
from reachscope.core.review import judge_reviewer, judged_valid

# Replies as judges write them, each with the label it gives.
GOOD = [
    ("The steps check out: 12*7 = 84.\nLABEL: valid", "valid"),
    ("Step 2 computes 27-22 = 4, which is wrong, but the answer is right.\n\nLABEL: flawed",
     "flawed"),
    ("**Verdict:** Guess", "guess"),
    ('{"reasoning": "the trace just states 42", "label": "guess"}', "guess"),
    ("label = ambiguous", "ambiguous"),
    ("Ambiguous.", "ambiguous"),
    ("  VALID\n", "valid"),
    ("The final answer \\boxed{18} follows.\nFinal label: **flawed**", "flawed"),
    ("Everything is recomputed correctly.\n\\boxed{\\text{valid}}", "valid"),
    ("<think>Maybe LABEL: flawed? No, 90/5 is 18.</think>\nLABEL: valid", "valid"),
    ("LABEL: valid\n\nLABEL: valid", "valid"),  # repeated, not conflicting
]

# Malformed replies, each with what the failure must say.
BAD = [
    ("", "empty reply"),
    ("   \n", "empty reply"),
    ("The reasoning is valid.", "no label in the reply"),
    ("I think it is mostly fine but step 3 is", "no label in the reply"),
    ("LABEL: invalid", "'invalid' is not a label"),
    ("LABEL: not valid", "'not' is not a label"),
    ("LABEL: correct", "'correct' is not a label"),
    ("LABEL: <valid|flawed|guess|ambiguous>", "no label in the reply"),
    ("LABEL: valid\n(or LABEL: flawed, LABEL: guess, LABEL: ambiguous)", "conflicting labels"),
    ("First I thought LABEL: valid, but step 2 is wrong. LABEL: flawed", "conflicting labels"),
    ("<think>Let me recompute 58-31 = 27, then 27-22 = 5, then", "ends inside <think>"),
    ("\n90/5=18\n\\boxed{18}", "\\boxed{} '18' is not a label"),
    ("\n\n\n4/4=1\n\n1\\boxe\n\\boxe\n\\boxed{", "no label in the reply"),
    ("valid flawed", "no label in the reply"),
]


@pytest.mark.parametrize(("reply", "label"), GOOD)
def test_replies_that_give_a_label(reply: str, label: str) -> None:
    verdict = parse_reply(reply)
    assert (verdict.label, verdict.error) == (label, None)


@pytest.mark.parametrize(("reply", "why"), BAD)
def test_malformed_replies_are_failures_not_labels(reply: str, why: str) -> None:
    verdict = parse_reply(reply)
    assert verdict.label is None
    assert verdict.error is not None and why in verdict.error


def test_cut_replies_say_so() -> None:
    assert "cut at --max-tokens" in (parse_reply("Step 1: 58-31", None, "length").error or "")
    assert "cut at --max-tokens" in (parse_reply("<think>58-31 = 27", None, "length").error
                                     or "")
    assert "cut" not in (parse_reply("Step 1: 58-31", None, "stop").error or "")


def test_rubric_aliases_map_reply_words() -> None:
    rubric = parse_rubric("---\naliases: 1=valid, 2=flawed, 3=guess, 4=ambiguous\n---\n"
                          "{trace}\nWhich?", "r.txt")
    assert rubric.aliases == {"1": "valid", "2": "flawed", "3": "guess", "4": "ambiguous"}
    assert rubric.text == "{trace}\nWhich?"
    assert parse_reply("\n2/6=1\n\\boxed{1}", rubric.aliases).label == "valid"
    assert parse_reply("LABEL: 2", rubric.aliases).label == "flawed"
    assert parse_reply("\\boxed{21}", rubric.aliases).label is None
    assert parse_reply("\\boxed{21}").label is None


@pytest.mark.parametrize(("text", "why"), [
    ("{problem} and no trace", "r.txt: the rubric has no {trace} placeholder"),
    ("---\naliases: 1=valid\n{trace}", "r.txt:1: front matter opened with '---' is never"),
    ("---\nlabels: 1=valid\n---\n{trace}", "r.txt:2: unknown front matter 'labels: 1=valid'"),
    ("---\n# ok\naliases: 1=right\n---\n{trace}", "r.txt:3: alias '1=right' is not WORD=LABEL"),
])
def test_bad_rubrics_name_file_and_line(text: str, why: str) -> None:
    with pytest.raises(RubricError, match="^" + why.replace("{", r"\{").replace("}", r"\}")
                       .replace("(", r"\(").replace(")", r"\)")):
        parse_rubric(text, "r.txt")


def test_rubric_file_and_shipped_rubric(tmp_path: Path) -> None:
    shipped = load_rubric(None)
    assert all("{" + p + "}" in shipped.text for p in ("problem", "reference", "answer", "trace"))
    assert shipped.aliases == {}
    path = tmp_path / "mine.txt"
    path.write_text("Judge {trace}", encoding="utf-8")
    assert load_rubric(path) == Rubric("Judge {trace}", str(path))
    with pytest.raises(RubricError, match="cannot read the rubric"):
        load_rubric(tmp_path / "missing.txt")


def test_prompt_fills_only_placeholders_once() -> None:
    rubric = Rubric("P: {problem} R: {reference} A: {answer} \\boxed{} {other}\n{trace}", "x")
    prompt = build_prompt(rubric, "What is 2+2?", "4", "4", "2+2=4 {answer} \\boxed{4}")
    assert prompt == ("P: What is 2+2? R: 4 A: 4 \\boxed{} {other}\n2+2=4 {answer} \\boxed{4}")


def test_judges_stay_out_of_the_people_pool() -> None:
    judge = judge_reviewer("m")
    labels = {"ann": {1: "valid", 2: "valid"}, judge: {1: "flawed", 2: "valid", 3: "valid"}}
    assert judged_valid(labels) == {1: True, 2: True}
    assert judged_valid(labels, judge) == {1: False, 2: True, 3: True}


def test_cli_resume_needs_no_server_and_bad_input_is_one_line(tmp_path: Path) -> None:
    """A queue the judge has labelled in full is not sent again (the server, here a closed
    port, is never contacted); a bad rubric or queue is a one-line error."""
    from click.testing import CliRunner
    from reachscope.core.cli import cli
    from reachscope.store.annotations import set_labels
    from reachscope.store.review import get_queue, queue_items

    from ..store.reviewdb import build_review_db
    from .vllmserver import free_port

    path = tmp_path / "r.db"
    build_review_db(path)[0].close()
    runner = CliRunner()
    assert runner.invoke(cli, ["review", str(path), "--runs", "base", "rl"]).exit_code == 0
    dead = f"http://127.0.0.1:{free_port()}/v1"
    args = ["judge", str(path), "--base-url", dead, "--model", "m"]
    from reachscope.store import open_db

    db = open_db(path)
    items = queue_items(db, get_queue(db, "review").id)
    set_labels(db, [(it.sample_id, "valid", "LABEL: valid") for it in items[:-1]], "judge:m")
    set_labels(db, [(items[-1].sample_id, "unparsed", "no label")], "judge:m")
    out = runner.invoke(cli, args)  # one failure left: the server is needed, and is not there
    assert out.exit_code == 1 and "cannot reach" in out.output
    set_labels(db, [(items[-1].sample_id, "flawed", "LABEL: flawed")], "judge:m")
    set_labels(db, [(items[0].sample_id, "flawed", ""), (items[1].sample_id, "valid", "")], "ann")
    db.close()
    out = runner.invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert out.output.strip() == (f"nothing to judge: all {len(items)} items of queue 'review' "
                                  "carry a label from judge:m")
    bad = tmp_path / "bad.txt"
    bad.write_text("no placeholder", encoding="utf-8")
    out = runner.invoke(cli, [*args, "--rubric", str(bad)])
    assert out.exit_code == 1 and f"{bad}: the rubric has no {{trace}} placeholder" in out.output
    out = runner.invoke(cli, [*args, "--queue", "nope"])
    assert out.exit_code == 1 and "no review queue 'nope' (queues: review)" in out.output
    status = runner.invoke(cli, ["review", str(path), "--status"])
    assert status.exit_code == 0, status.output
    n = len(items)  # the judge's row: n labelled, n - 1 valid, 1 flawed
    assert re.search(rf"judge:m +│ +{n}/{n} +│ +{n - 1} +│ +1 ", status.output)
    assert "pools people's labels only" in status.output
    # The judge's agreement with the person: valid/flawed on one sample, valid/valid on another.
    assert "ann vs judge:m: 2 samples judged by both, 1 agree, Cohen's kappa 0.000" in status.output
    assert f"#0: problem {items[0].problem_idx} sample {items[0].sample_idx}: flawed / valid" \
        in status.output
