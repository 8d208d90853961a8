"""`reachscope judge`: label a review queue through an LLM judge on an OpenAI-compatible server.

The pure parts (rubric, prompt, reading the reply) are in core/judge.py; this module reads the
queue, sends the requests through the sampler's ``openai`` backend (concurrency, retries with
backoff, several base URLs) and stores each answer as it arrives.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click
import sqlite_utils
from reachscope.store.annotations import set_labels
from reachscope.store.problems import problems_of
from reachscope.store.review import (
    ReviewItem,
    ReviewQueue,
    get_queue,
    pending_items,
    queue_labels,
)
from reachscope.store.samples import sample_info, sample_text

from ..backends import BackendError, GenerationParams, Request, RequestResult, make_backend
from ..judge import (
    FAILURE_LABELS,
    NOTE_CHARS,
    REQUEST_FAILED,
    UNPARSED,
    Rubric,
    RubricError,
    build_prompt,
    default_rubric_text,
    failure_note,
    load_rubric,
    parse_reply,
)
from ..review import JUDGEMENTS, REVIEW_LABELS, judge_reviewer
from ._common import db_argument, open_existing, user_errors

#: Labels are written when this many have arrived, or FLUSH_S after the first unwritten one:
#: a killed run loses at most that much.
FLUSH_N = 16
FLUSH_S = 1.0


def _print_rubric(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(default_rubric_text(), nl=False)
        ctx.exit()


@click.command("judge")
@db_argument
@click.option("--queue", "queue_name", default="review", show_default=True,
              help="The review queue to label (`reachscope review --name`).")
@click.option("--base-url", "base_urls", multiple=True, required=True, metavar="URL",
              help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (repeat to balance).")
@click.option("--model", required=True, help="The served model name (as in /v1/models); "
              "labels are stored as reviewer judge:MODEL.")
@click.option("--api-key", envvar="OPENAI_API_KEY", default=None, show_envvar=True,
              help="Sent as a bearer token.")
@click.option("--rubric", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Rubric prompt file (default: the shipped one; see --print-rubric).")
@click.option("--print-rubric", is_flag=True, is_eager=True, expose_value=False,
              callback=_print_rubric, help="Print the shipped rubric (to copy and edit) and exit.")
@click.option("--concurrency", type=click.IntRange(1), default=8, show_default=True,
              help="Requests in flight.")
@click.option("--max-tokens", type=click.IntRange(1), default=1024, show_default=True,
              help="Longest reply.")
@click.option("--temperature", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option("--completions", is_flag=True, help="Send the rubric as a raw prompt to "
              "/v1/completions (models without a chat template) instead of as a chat message.")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Judge at most this many items in this run (try a rubric on a few first).")
@click.option("--max-retries", type=click.IntRange(0), default=10, show_default=True,
              help="Tries after the first for a request the server refuses or drops.")
@click.option("--request-timeout", type=click.FloatRange(1), default=600.0, show_default=True,
              help="Seconds per request.")
@user_errors
def judge_command(db: Path, queue_name: str, base_urls: tuple[str, ...], model: str,
                  api_key: str | None, rubric: Path | None, concurrency: int, max_tokens: int,
                  temperature: float, completions: bool, limit: int | None, max_retries: int,
                  request_timeout: float) -> None:
    """Label a review queue's samples by an LLM judge (reviewer judge:MODEL).

    Each item not yet labelled by this judge is rendered through the rubric (the problem, the
    reference answer, the sample's final answer and its full trace), sent to the server, and
    the label read from the reply is stored. A reply with no readable label, or a request that
    fails, is recorded as such (`unparsed`, `request-failed`, with the reply or error in the
    note), never as a label, and retried by the next run. A rerun judges only what is left.

    `reachscope review DB --status` shows the judge's labels and its agreement with people
    (Cohen's kappa); people's labels alone make CoT-pass@k unless --reviewer judge:MODEL.

    \b
    Example:
      vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000
      reachscope judge runs.db --base-url http://127.0.0.1:8000/v1 \\
          --model Qwen/Qwen2.5-7B-Instruct --concurrency 16
    """
    try:
        spec = load_rubric(rubric)
    except RubricError as exc:
        raise click.ClickException(str(exc)) from exc
    conn = open_existing(db, read_only=False)
    queue = get_queue(conn, queue_name)
    reviewer = judge_reviewer(model)
    items = _pending(conn, queue, reviewer, limit)
    if not items:
        click.echo(f"nothing to judge: all {queue.size} items of queue {queue.name!r} carry a "
                   f"label from {reviewer}")
        return
    retried = _failed_before(conn, queue, reviewer, items)
    click.echo(f"judging {len(items)} of {queue.size} items of queue {queue.name!r} as "
               f"{reviewer} ({spec.source}"
               + (f"; {retried} failed before and are retried" if retried else "") + ")",
               err=True)
    requests = [_request(conn, queue, spec, it, completions) for it in items]
    backend = make_backend("openai", model, {
        "base_urls": list(base_urls), "api_key": api_key, "concurrency": concurrency,
        "max_retries": max_retries, "timeout_s": request_timeout})
    params = GenerationParams(temperature=temperature, top_p=1.0, max_tokens=max_tokens)
    tally: Counter[str] = Counter()
    failures: list[tuple[ReviewItem, str]] = []
    by_key = {it.sample_id: it for it in items}
    started = time.monotonic()
    try:
        with backend:
            _judge(conn, backend.generate(requests, params), spec, reviewer, by_key, tally,
                   failures)
    except BackendError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        _summary(tally, failures, time.monotonic() - started, interrupted=True)
        raise SystemExit(130) from None
    _summary(tally, failures, time.monotonic() - started)


def _pending(conn: sqlite_utils.Database, queue: ReviewQueue, reviewer: str,
             limit: int | None) -> list[ReviewItem]:
    out: list[ReviewItem] = []
    while (limit is None or len(out) < limit) and (
            page := pending_items(conn, queue.id, reviewer, REVIEW_LABELS,
                                  out[-1].position if out else -1, 500)):
        out.extend(page)
    return out if limit is None else out[:limit]


def _failed_before(conn: sqlite_utils.Database, queue: ReviewQueue, reviewer: str,
                   items: list[ReviewItem]) -> int:
    """How many of ``items`` carry a failure of this judge from an earlier run."""
    failed = queue_labels(conn, queue.id, FAILURE_LABELS).get(reviewer, {})
    return sum(it.sample_id in failed for it in items)


def _request(conn: sqlite_utils.Database, queue: ReviewQueue, rubric: Rubric, item: ReviewItem,
             completions: bool) -> Request:
    grader = queue.params.get("graders", {}).get(f"{item.dataset}/{item.run_label}")
    info = sample_info(conn, item.sample_id, grader) or {}
    problem = problems_of(conn, [item.problem_id]).get(item.problem_id)
    prompt = build_prompt(rubric, problem=(problem.prompt or "") if problem else "",
                          reference=(problem.answer or "") if problem else "",
                          answer=str(info.get("answer") or "(none extracted)"),
                          trace=sample_text(conn, item.sample_id))
    if completions:
        return Request(item.sample_id, 0, 1, prompt=prompt)
    return Request(item.sample_id, 0, 1, messages=[{"role": "user", "content": prompt}])


def _judge(conn: sqlite_utils.Database, results: Iterator[RequestResult], rubric: Rubric,
           reviewer: str, items: dict[int, ReviewItem], tally: Counter[str],
           failures: list[tuple[ReviewItem, str]]) -> None:
    """Read each result as it arrives and store it, in small batches."""
    batch: list[tuple[int, str, str]] = []
    first_unwritten = 0.0
    try:
        for res in results:
            label, note, error = _outcome(res, rubric)
            batch.append((res.request.key, label, note))
            tally[label] += 1
            if error is not None:
                failures.append((items[res.request.key], error))
            if len(batch) == 1:
                first_unwritten = time.monotonic()
            if len(batch) >= FLUSH_N or time.monotonic() - first_unwritten >= FLUSH_S:
                set_labels(conn, batch, reviewer)
                batch = []
    finally:
        if batch:
            set_labels(conn, batch, reviewer)


def _outcome(res: RequestResult, rubric: Rubric) -> tuple[str, str, str | None]:
    """``(label to store, note, error or None)`` of one result."""
    if res.error is not None or not res.completions:
        error = res.error or "the server returned no completion"
        return REQUEST_FAILED, error, error
    done = res.completions[0]
    verdict = parse_reply(done.text, rubric.aliases, done.finish_reason)
    if verdict.label is None:
        error = verdict.error or "no label"
        return UNPARSED, failure_note(error, done.text), error
    return verdict.label, done.text[:NOTE_CHARS], None


def _summary(tally: Counter[str], failures: list[tuple[ReviewItem, str]], seconds: float,
             interrupted: bool = False) -> None:
    done = sum(tally.values())
    head = "interrupted after" if interrupted else "judged"
    labels = ", ".join(f"{tally[k]} {k}" for k in JUDGEMENTS if tally[k]) or "no label read"
    click.echo(f"{head} {done} items in {seconds:.1f} s: {labels}")
    if failures:
        click.echo(f"  {tally[UNPARSED]} unparsed replies, {tally[REQUEST_FAILED]} failed "
                   "requests (recorded; rerun to retry them)")
        for item, error in failures[:5]:
            click.echo(f"  #{item.position} problem {item.problem_idx} sample "
                       f"{item.sample_idx}: {error[:160]}")
        if len(failures) > 5:
            click.echo(f"  ... {len(failures) - 5} more (`reachscope review --status`)")
