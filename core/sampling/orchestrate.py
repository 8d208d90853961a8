"""A sampling run: generate the missing samples of each model, store and grade them as they come.

The main thread drives the backend; one writer thread owns the database connection. Completed
requests are written in batches, each batch one transaction, idempotent on (run, problem, sample
index), and handed to a grading pool whose verdicts come back to the same writer. A SIGKILL loses
at most the batch not yet written; the next run of the same command generates exactly the
missing (problem, sample index) pairs. What to generate is planned by :mod:`.plan`; this module
does the reading, writing and driving.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from typing import Any

import sqlite_utils
from reachscope.store import ProblemIn, RunSpec, open_db
from reachscope.store import runs as store_runs
from reachscope.store import samples as store_samples
from reachscope.store.problems import upsert_problems
from reachscope.store.runs import get_or_create_run, update_run

from ..backends import Backend, BackendError, GenerationParams, make_backend
from ..prompts import PromptTemplate, load_template
from ..sample_writer import SampleWriter, writer_identity
from .config import ModelSpec, SampleConfig, SamplingError
from .outcome import ModelOutcome, Reporter, SilentReporter
from .plan import plan_ranges, split_ranges, to_requests
from .provenance import check_resumable, finished_provenance, run_params, session_record


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
    from ..datasets import load_dataset

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
        grader = config.grader or dataset.kind
        pool = _open_pool(grader, config)
        outcomes = []
        try:
            for model in config.models:
                outcome = ModelOutcome(model.label)
                outcomes.append(outcome)
                _sample_model(db, config, dataset_name, unique, template, model, pool,
                              reporter, outcome, backend)
                if pool is not None:
                    _cluster_answers(db, pool, outcome)
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


def _cluster_answers(db: sqlite_utils.Database, pool: Any, outcome: ModelOutcome) -> None:
    """Cluster the model's answers and cache its maj@k, as `reachscope grade` does at its end
    (a failure is the outcome's: the samples and grades are stored, `grade --cluster-only`
    redoes this)."""
    from ..answer_clusters import cluster_pending

    if outcome.run_id is None:
        return
    try:
        cluster_pending(db, pool, [outcome.run_id])
    except Exception as exc:  # noqa: BLE001 - recorded, the run itself is complete
        outcome.grade_errors.append(f"clustering answers: {exc}")


def _open_pool(grader: str, config: SampleConfig) -> Any:
    if grader == "none":
        return None
    from ..backends import backend_class
    from ..graders import GradingPool

    try:
        cls = backend_class(config.backend)
    except BackendError:  # reported per model when the backend is built
        cls = None
    try:
        # A backend may grade elsewhere (the ray backend's --grade-on-cluster).
        pool = None if cls is None else cls.grading_pool(
            grader, config.grade_workers, dict(config.grader_options),
            dict(config.backend_options))
        if pool is None:
            pool = GradingPool(grader, workers=config.grade_workers,
                               options=config.grader_options)
            pool.__enter__()
    except (ValueError, BackendError) as exc:  # unknown grader, bad options, no cluster
        raise SamplingError(str(exc)) from exc
    return pool


def _open_run(db: sqlite_utils.Database, config: SampleConfig, spec: RunSpec) -> int:
    """The run of ``spec``, created or checked for a resume, and marked as written by us."""
    with db.atomic():
        run_id, created = get_or_create_run(db, spec)
        if not created:
            row = store_runs.run_fields(db, run_id, "params", "status", "n_target")
            check_resumable(run_id, row["status"], json.loads(row["params"] or "{}"),
                            spec.params)
            update_run(db, run_id, status="running", finished_at=None,
                       n_target=max(config.n, int(row["n_target"] or 0)))
        # Who writes the run now: `reachscope runs` shows it `stale` once this process is gone.
        prov = _provenance(db, run_id)
        prov["writer"] = writer_identity()
        update_run(db, run_id, provenance=prov)
    return run_id


def _sample_model(
    db: sqlite_utils.Database,
    config: SampleConfig,
    dataset: str,
    problems: dict[int, ProblemIn],
    template: PromptTemplate,
    model: ModelSpec,
    pool: Any,
    reporter: Reporter,
    outcome: ModelOutcome,
    shared: Backend | None,
) -> None:
    spec = RunSpec(
        label=model.label, dataset=dataset, model=model.path, backend=config.backend,
        prompt_template=template.text, params=run_params(config, template), n_target=config.n,
        seeds=[config.seed], status="running",
        primary_grader=pool.grader_name if pool is not None else None,
    )
    run_id = outcome.run_id = _open_run(db, config, spec)
    session = session_record(config.argv)
    started = time.perf_counter()
    scorer_id = _sampler_scorer(db, config, model) if config.logprobs else None
    writer = SampleWriter(db, run_id, pool, problems, config.batch_size, config.flush_s,
                          scorer_id)
    backend: Backend | None = shared
    status = "failed"
    gen_started: float | None = None
    try:
        # Inside the try: a Ctrl-C from here on marks the run interrupted, never `running`.
        writer.start()
        writer.grade_backlog()
        ranges = plan_ranges([(pid, p.hash) for pid, p in problems.items()], config.n,
                             _stored_indices(db, run_id, problems), config.seed)
        outcome.planned = sum(r.n for r in ranges)
        total = len(problems) * config.n
        if ranges:
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
        if ranges:
            assert backend is not None
            requests = to_requests(split_ranges(ranges, backend.max_request_n),
                                   {pid: p.prompt or "" for pid, p in problems.items()}, template)
            gen = GenerationParams(config.temperature, config.top_p, config.max_tokens,
                                   config.top_k, config.logprobs)
            for result in backend.generate(requests, gen):
                if result.error is not None:
                    req = result.request
                    msg = f"problem {problems[req.key].idx} samples " \
                          f"{req.start}..{req.start + req.n - 1}: {result.error}"
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
        fields = finished_provenance(_provenance(db, run_id), session, status, outcome)
        with db.atomic():
            update_run(db, run_id, **fields)
        if late_interrupt:
            raise KeyboardInterrupt


def _sampler_scorer(db: sqlite_utils.Database, config: SampleConfig, model: ModelSpec) -> int:
    """The scorer of the run's own log-probabilities (``--logprobs K``), created if new."""
    from reachscope.store.scores import ensure_sampler_scorer

    provenance = {"backend": config.backend, "model": model.path, "source": "sample",
                  "logprobs_k": config.logprobs,
                  "entropy": "renormalised top-K log-probabilities (a lower bound)"}
    with db.atomic():
        return ensure_sampler_scorer(db, model.label, model.path, f"{config.backend} sampler",
                                     provenance)


def _provenance(db: sqlite_utils.Database, run_id: int) -> dict[str, Any]:
    prov: dict[str, Any] = json.loads(
        store_runs.run_fields(db, run_id, "provenance")["provenance"] or "{}"
    )
    return prov


def _stored_indices(
    db: sqlite_utils.Database, run_id: int, problems: dict[int, ProblemIn]
) -> dict[int, Collection[int]]:
    """Sample indices stored per problem, read per problem only where there are gaps."""
    stats = store_samples.sample_index_stats(db, run_id)
    stored: dict[int, Collection[int]] = {}
    for pid in problems:
        count, top = stats.get(pid, (0, -1))
        # Indices are unique per (run, problem): count == top + 1 means exactly 0..top.
        stored[pid] = range(count) if count == top + 1 else \
            store_samples.sample_indices(db, run_id, pid)
    return stored
