"""What a run records about itself: its parameters, and each session's command, host and counts.

Pure functions over plain dicts; :mod:`.orchestrate` reads and writes them through the store.
"""

from __future__ import annotations

import os
import shlex
import socket
from collections.abc import Sequence
from typing import Any

from reachscope.store.runs import now

from ..backends.registry import secret_flags, secret_params
from ..prompts import PromptTemplate
from .config import GENERATION_KEYS, SampleConfig, SamplingError
from .outcome import ModelOutcome
from .seeds import SEED_SCHEME


def redact_argv(argv: Sequence[str], secret: Sequence[str] | None = None) -> list[str]:
    """The command line with the values of secret options hidden, fit to store.

    Args:
        argv: the command line.
        secret: flags whose value to hide (default: those the backends declare secret,
            ``--api-key``).
    """
    flags = tuple(secret_flags() if secret is None else secret)
    out: list[str] = []
    hide = False
    for arg in argv:
        flag, eq, _ = arg.partition("=")
        if hide:
            out.append("***")
            hide = False
        elif arg in flags:
            out.append(arg)
            hide = True
        elif eq and flag in flags:
            out.append(f"{flag}=***")
        else:
            out.append(arg)
    return out


def run_params(config: SampleConfig, template: PromptTemplate) -> dict[str, Any]:
    """The parameters stored with a run (no secrets)."""
    hidden = secret_params()
    options = {k: v for k, v in config.backend_options.items() if k not in hidden}
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
        "seed_scheme": SEED_SCHEME,
    }


def check_resumable(run_id: int, status: str | None, stored: dict[str, Any],
                    params: dict[str, Any]) -> None:
    """Refuse to add samples to a run made under other generation parameters.

    Args:
        run_id: the existing run.
        status: its stored status.
        stored: its stored parameters.
        params: the parameters asked for now (:func:`run_params`).

    Raises:
        SamplingError: the run holds imported samples, or a :data:`GENERATION_KEYS` value
            differs.
    """
    if status == "imported":
        raise SamplingError(f"run {run_id} holds imported samples; sample under another label")
    diff = [k for k in GENERATION_KEYS if k in stored and stored[k] != params.get(k)]
    if diff:
        detail = ", ".join(f"{k}: stored {stored[k]!r}, asked {params.get(k)!r}" for k in diff)
        raise SamplingError(
            f"run {run_id} exists with other parameters ({detail}); use another model label"
        )


def session_record(argv: Sequence[str]) -> dict[str, Any]:
    """The start of a session's record: when, the (redacted) command, host and pid."""
    redacted = redact_argv(argv)
    return {
        "started_at": now(),
        "argv": redacted,
        "command": shlex.join(redacted),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def finished_provenance(
    prov: dict[str, Any], session: dict[str, Any], status: str, outcome: ModelOutcome
) -> dict[str, Any]:
    """The run fields to store when a session ends: status, provenance, revision, finish time.

    Args:
        prov: the run's stored provenance (updated in place: this session appended, totals
            added to, the writer removed).
        session: this session's record (:func:`session_record`, and ``backend`` where one
            was opened); its end and counts are added here.
        status: how the session ended.
        outcome: its counts.
    """
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
    return fields
