"""A sampling run: generate the missing samples of each model, store and grade them as they come.

The main thread drives the backend; one writer thread owns the database connection. Completed
requests are written in batches, each batch one transaction, idempotent on (run, problem, sample
index), and handed to a grading pool whose verdicts come back to the same writer. A SIGKILL loses
at most the batch not yet written; the next run of the same command generates exactly the
missing (problem, sample index) pairs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils
from reachscope.store import ProblemIn, RunSpec, open_db
from reachscope.store import runs as store_runs
from reachscope.store import samples as store_samples
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run, now, update_run

from .backends import Backend, BackendError, GenerationParams, Request, make_backend
from .prompts import PromptTemplate, load_template
from .sample_writer import SampleWriter, writer_identity

#: Parameters that define what a run's samples are; resuming with other values is refused.
GENERATION_KEYS = ("temperature", "top_p", "top_k", "max_tokens", "seed", "template_text",
                   "chat_template")


class SamplingError(Exception):
    """A run cannot start as asked (conflicting parameters, bad model spec)."""


@dataclass(frozen=True)
class ModelSpec:
    """A model to sample: the run label and the path or name given to the backend."""

    label: str
    path: str


def parse_model(spec: str) -> ModelSpec:
    """Parse ``label=path_or_name``; a bare path takes its last component as the label."""
    label, sep, path = spec.partition("=")
    if not sep:
        path = spec
        label = Path(spec.rstrip("/")).name or spec
    if not label or not path:
        raise SamplingError(f"--model {spec!r}: expected label=path_or_name")
    return ModelSpec(label.strip(), path.strip())


@dataclass
class SampleConfig:
    """Everything a ``reachscope sample`` invocation asks for."""

    db: Path
    dataset: str
    models: list[ModelSpec]
    backend: str = "vllm"
    n: int = 1
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int | None = None
    max_tokens: int = 1024
    seed: int = 0
    template: str = "qwen-boxed"
    chat_template: bool = False
    limit: int | None = None
    #: Samples per write transaction.
    batch_size: int = 256
    #: Longest a completed sample waits in memory before it is written.
    flush_s: float = 2.0
    #: Grader name; None picks by dataset kind, "none" turns grading off.
    grader: str | None = None
    grade_workers: int = 2
    grader_options: dict[str, Any] = field(default_factory=dict)
    backend_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    #: Name to store the problems under (default: the dataset's own name).
    dataset_name: str | None = None
    argv: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass
class ModelOutcome:
    """What happened to one model's run."""

    label: str
    run_id: int | None = None
    status: str = "running"
    planned: int = 0
    written: int = 0
    tokens: int = 0
    graded: int = 0
    #: Grading batches that failed and their samples (stored, left ungraded for a later grade).
    grade_failed_batches: int = 0
    grade_failed: int = 0
    #: Samples whose grades were still pending when the run stopped early (graded on resume).
    ungraded_left: int = 0
    grade_errors: list[str] = field(default_factory=list)
    #: Wall time of the model's run, loading included.
    elapsed_s: float = 0.0
    #: Wall time from the first request to the last sample written (what tokens/s divides by).
    generate_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second of generation."""
        return self.tokens / self.generate_s if self.generate_s > 0 else 0.0


class Reporter(Protocol):
    """Receives progress; the CLI shows it with rich, tests may record it."""

    def start(self, label: str, total: int, done: int) -> None: ...

    def advance(self, label: str, samples: int, tokens: int) -> None: ...

    def error(self, label: str, message: str) -> None: ...

    def stop(self, label: str) -> None: ...


class SilentReporter:
    """A reporter that shows nothing."""

    def start(self, label: str, total: int, done: int) -> None:
        pass

    def advance(self, label: str, samples: int, tokens: int) -> None:
        pass

    def error(self, label: str, message: str) -> None:
        pass

    def stop(self, label: str) -> None:
        pass


def sample_seed(run_seed: int, problem_hash: str, sample_idx: int) -> int:
    """The seed of one sample: a per-(run seed, problem) base plus the sample index.

    Consecutive indices get consecutive seeds, matching vLLM's ``seed + i`` for the children of
    an ``n``-sample request, so a resumed request reproduces the seeds of an uninterrupted run.
    The base has 60 bits, far from the int64 limit servers validate against.
    """
    digest = hashlib.sha256(f"{run_seed}:{problem_hash}".encode()).hexdigest()
    return int(digest[:15], 16) + sample_idx


def redact_argv(argv: Sequence[str]) -> list[str]:
    """The command line with the value of ``--api-key`` hidden, fit to store."""
    out: list[str] = []
    hide = False
    for arg in argv:
        if hide:
            out.append("***")
            hide = False
        elif arg == "--api-key":
            out.append(arg)
            hide = True
        elif arg.startswith("--api-key="):
            out.append("--api-key=***")
        else:
            out.append(arg)
    return out


def run_sampling(
    config: SampleConfig, reporter: Reporter | None = None, backend: Backend | None = None
) -> list[ModelOutcome]:
    """Sample every model of ``config`` into its run, resuming where a run left off.

    Args:
        config: what to sample.
        reporter: progress receiver (nothing shown when None).
        backend: an already open backend to use for every model instead of building one per
            model from ``config`` (the caller opens and closes it; tests share one engine).

    Returns:
        One outcome per model, in order. A ``KeyboardInterrupt`` marks the current run
        ``interrupted`` and is re-raised after the written samples are safe.
    """
    from .datasets import load_dataset

    reporter = reporter or SilentReporter()
    template = load_template(config.template, chat=config.chat_template)
    dataset = load_dataset(config.dataset, **config.dataset_options)
    problems = list(dataset.problems)
    if config.limit is not None:
        problems = problems[: config.limit]
    dataset_name = config.dataset_name or dataset.name
    db = open_db(config.db)
    try:
        with db.atomic():
            pids = upsert_problems(db, dataset_name, problems)
        # A problem listed twice (same text) is one stored problem: sample it once.
        unique: dict[int, ProblemIn] = {}
        for pid, problem in zip(pids, problems):
            unique.setdefault(pid, problem)
        pids, problems = list(unique), list(unique.values())
        grader = config.grader or dataset.kind
        pool = _open_pool(grader, config)
        outcomes = []
        try:
            for model in config.models:
                outcome = ModelOutcome(model.label)
                outcomes.append(outcome)
                _sample_model(db, config, dataset_name, problems, pids, template, model, pool,
                              reporter, outcome, backend)
            if pool is not None:
                pool.close()
        except BaseException:
            # Ctrl-C (or a failure): abandon the grading backlog instead of finishing it; the
            # stored samples are graded on resume (or by `reachscope grade`).
            if pool is not None:
                pool.close(cancel=True)
            raise
        return outcomes
    finally:
        db.close()


def _open_pool(grader: str, config: SampleConfig) -> Any:
    if grader == "none":
        return None
    from .graders import GradingPool

    try:
        pool = GradingPool(grader, workers=config.grade_workers, options=config.grader_options)
    except ValueError as exc:  # unknown grader or bad options
        raise SamplingError(str(exc)) from exc
    pool.__enter__()
    return pool


def run_params(config: SampleConfig, template: PromptTemplate) -> dict[str, Any]:
    """The parameters stored with a run (no secrets)."""
    options = {k: v for k, v in config.backend_options.items() if k != "api_key"}
    return {
        "n": config.n,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "top_k": config.top_k,
        "max_tokens": config.max_tokens,
        "seed": config.seed,
        "template": template.name,
        "template_text": template.text,
        "chat_template": template.chat,
        "limit": config.limit,
        "backend": config.backend,
        "backend_options": options,
        "seed_scheme": "sha256(f'{seed}:{problem_hash}')[:15] as int + sample_idx",
    }


def _sample_model(
    db: sqlite_utils.Database,
    config: SampleConfig,
    dataset: str,
    problems: list[ProblemIn],
    pids: list[int],
    template: PromptTemplate,
    model: ModelSpec,
    pool: Any,
    reporter: Reporter,
    outcome: ModelOutcome,
    shared: Backend | None,
) -> None:
    params = run_params(config, template)
    spec = RunSpec(
        label=model.label, dataset=dataset, model=model.path, backend=config.backend,
        prompt_template=template.text, params=params, n_target=config.n, seeds=[config.seed],
        status="running", primary_grader=pool.grader_name if pool is not None else None,
    )
    with db.atomic():
        run_id, created = get_or_create_run(db, spec)
        if not created:
            _check_resumable(db, run_id, params)
            update_run(db, run_id, status="running", finished_at=None,
                       n_target=max(config.n, _stored_n_target(db, run_id)))
        # Who writes the run now: `reachscope runs` shows it `stale` once this process is gone.
        prov = json.loads(store_runs.run_fields(db, run_id, "provenance")["provenance"] or "{}")
        prov["writer"] = writer_identity()
        update_run(db, run_id, provenance=prov)
    outcome.run_id = run_id
    argv = redact_argv(config.argv)
    session: dict[str, Any] = {
        "started_at": now(),
        "argv": argv,
        "command": shlex.join(argv),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    started = time.perf_counter()
    writer = SampleWriter(db, run_id, pool, dict(zip(pids, problems)), config.batch_size,
                          config.flush_s)
    backend: Backend | None = shared
    status = "failed"
    gen_started: float | None = None
    try:
        # Inside the try: a Ctrl-C from here on marks the run interrupted, never `running`.
        writer.start()
        writer.grade_backlog()
        requests = _plan(db, run_id, config, problems, pids, template)
        outcome.planned = sum(r.n for r in requests)
        total = len(problems) * config.n
        if requests:
            if backend is None:
                backend = make_backend(config.backend, model.path, config.backend_options)
                backend.open()
            session["backend"] = backend.provenance()
            if template.chat:
                # The chat template applied to the template itself: the exact prompt of a sample
                # is this text with {problem} replaced (None where a server renders it).
                session["chat_prompt_template"] = backend.render_chat(
                    template.messages("{problem}")
                )
        # Progress starts once the model is loaded, so its rates are generation rates.
        reporter.start(model.label, total, total - outcome.planned)
        gen_started = time.perf_counter()
        if requests:
            assert backend is not None
            requests = _split(requests, getattr(backend, "max_request_n", None))
            gen = GenerationParams(config.temperature, config.top_p, config.max_tokens,
                                   config.top_k)
            for result in backend.generate(requests, gen):
                if result.error is not None:
                    msg = f"problem {_idx_of(problems, pids, result.request.key)} samples " \
                          f"{result.request.start}..{result.request.start + result.request.n - 1}" \
                          f": {result.error}"
                    outcome.errors.append(msg)
                    reporter.error(model.label, msg)
                    continue
                writer.put(result)
                outcome.tokens += result.tokens
                reporter.advance(model.label, len(result.completions), result.tokens)
        writer.sync()
        outcome.generate_s = time.perf_counter() - gen_started
        status = "failed" if outcome.errors else "finished"
    except BackendError as exc:
        outcome.errors.append(str(exc))
        reporter.error(model.label, str(exc))
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        # Samples first: they are what a kill would lose. Grades are waited for unless stopping.
        late_interrupt = False
        try:
            if writer.is_alive():
                writer.finish(wait_grades=status != "interrupted")
        except KeyboardInterrupt:  # Ctrl-C while waiting for the last grades
            status, late_interrupt = "interrupted", True
        except Exception as exc:  # noqa: BLE001 - recorded in the run, raised by put() already
            outcome.errors.append(f"writing to {config.db}: {exc}")
            status = "failed"
        outcome.written, outcome.graded = writer.written, writer.graded
        outcome.grade_failed_batches = writer.grade_failed_batches
        outcome.grade_failed = writer.grade_failed_samples
        outcome.ungraded_left = writer.grade_abandoned
        for message in writer.grade_errors:
            outcome.grade_errors.append(message)
            reporter.error(model.label, message)
        if backend is not None and backend is not shared:
            try:
                backend.close()
            except Exception as exc:  # noqa: BLE001 - the run's record matters more
                outcome.errors.append(f"closing the backend: {exc}")
        outcome.status = status
        outcome.elapsed_s = time.perf_counter() - started
        if gen_started is not None:
            reporter.stop(model.label)
        _finish_run(db, run_id, status, session, outcome)
        if late_interrupt:
            raise KeyboardInterrupt


def _check_resumable(db: sqlite_utils.Database, run_id: int, params: dict[str, Any]) -> None:
    import json

    row = store_runs.run_fields(db, run_id, "params", "status")
    stored = json.loads(row["params"] or "{}")
    if row["status"] == "imported":
        raise SamplingError(f"run {run_id} holds imported samples; sample under another label")
    diff = [k for k in GENERATION_KEYS if k in stored and stored[k] != params.get(k)]
    if diff:
        detail = ", ".join(f"{k}: stored {stored[k]!r}, asked {params.get(k)!r}" for k in diff)
        raise SamplingError(
            f"run {run_id} exists with other parameters ({detail}); use another model label"
        )


def _stored_n_target(db: sqlite_utils.Database, run_id: int) -> int:
    return int(store_runs.run_fields(db, run_id, "n_target")["n_target"] or 0)


def _plan(
    db: sqlite_utils.Database,
    run_id: int,
    config: SampleConfig,
    problems: list[ProblemIn],
    pids: list[int],
    template: PromptTemplate,
) -> list[Request]:
    """One request per run of missing sample indices of each problem."""
    stored = store_samples.sample_index_stats(db, run_id)
    requests = []
    for problem, pid in zip(problems, pids):
        count, top = stored.get(pid, (0, -1))
        if count == top + 1:
            missing = list(range(top + 1, config.n))
        else:  # gaps left by failed requests: look at this problem's indices only
            have = store_samples.sample_indices(db, run_id, pid)
            missing = [i for i in range(config.n) if i not in have]
        text = problem.prompt or ""
        for start, n in _ranges(missing):
            seed = sample_seed(config.seed, problem.hash, start)
            if template.chat:
                requests.append(Request(pid, start, n, seed, messages=template.messages(text)))
            else:
                requests.append(Request(pid, start, n, seed, prompt=template.render(text)))
    return requests


def _ranges(indices: Sequence[int]) -> Iterator[tuple[int, int]]:
    start = prev = None
    for i in indices:
        if start is None:
            start = prev = i
        elif i == prev + 1:  # type: ignore[operator]
            prev = i
        else:
            yield start, prev - start + 1  # type: ignore[operator]
            start = prev = i
    if start is not None:
        yield start, prev - start + 1  # type: ignore[operator]


def _split(requests: list[Request], most: int | None) -> list[Request]:
    if not most:
        return requests
    out = []
    for r in requests:
        for off in range(0, r.n, most):
            seed = None if r.seed is None else r.seed + off
            out.append(Request(r.key, r.start + off, min(most, r.n - off), seed,
                               r.prompt, r.messages))
    return out


def _idx_of(problems: list[ProblemIn], pids: list[int], pid: int) -> int:
    for p, i in zip(problems, pids):
        if i == pid:
            return p.idx
    return -1


def _finish_run(
    db: sqlite_utils.Database,
    run_id: int,
    status: str,
    session: dict[str, Any],
    outcome: ModelOutcome,
) -> None:
    import json

    session.update(
        finished_at=now(),
        status=status,
        samples_written=outcome.written,
        tokens=outcome.tokens,
        elapsed_s=round(outcome.elapsed_s, 3),
        generate_s=round(outcome.generate_s, 3),
        errors=outcome.errors[:100],
        graded=outcome.graded,
    )
    if outcome.grade_failed:
        session["grade_failures"] = {"batches": outcome.grade_failed_batches,
                                     "samples": outcome.grade_failed}
        session["grade_errors"] = outcome.grade_errors[:20]
    if outcome.ungraded_left:
        session["ungraded_left"] = outcome.ungraded_left
    prov = json.loads(store_runs.run_fields(db, run_id, "provenance")["provenance"] or "{}")
    prov.pop("writer", None)  # nobody writes the run any more
    prov.setdefault("sessions", []).append(session)
    prov["tokens_generated"] = int(prov.get("tokens_generated", 0)) + outcome.tokens
    # Every failed grading batch is counted in the run's record, across sessions.
    prov["grade_failed_batches"] = (int(prov.get("grade_failed_batches", 0))
                                    + outcome.grade_failed_batches)
    prov["grade_failed_samples"] = (int(prov.get("grade_failed_samples", 0))
                                    + outcome.grade_failed)
    backend = session.get("backend") or {}
    for key in ("versions", "gpu", "model_config_sha256"):
        if key in backend:
            prov[key] = backend[key]
    if "chat_prompt_template" in session:
        prov["chat_prompt_template"] = session["chat_prompt_template"]
    prov["host"] = session["host"]
    prov["command"] = session["command"]
    fields: dict[str, Any] = {"status": status, "provenance": prov}
    if backend.get("revision"):
        fields["revision"] = backend["revision"]
    if status == "finished":
        fields["finished_at"] = session["finished_at"]
    with db.atomic():
        update_run(db, run_id, **fields)
