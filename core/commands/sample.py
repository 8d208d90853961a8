"""`reachscope sample`: sample models on a dataset into a database, graded as it goes."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import click
from reachscope.core.backends import BackendError
from reachscope.core.backends.registry import (
    REGISTRY,
    backend_class,
    backend_kwargs,
    backend_names,
    cli_options,
)
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ._common import text_console, user_errors

DATASET_OPTIONS = ("problem_field", "answer_field", "id_field")


class _Rate(ProgressColumn):
    """Samples/s and tokens/s of a task since it started."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        if elapsed <= 0:
            return Text("-- samples/s  -- tok/s", style="progress.data.speed")
        done = task.completed - task.fields.get("done0", 0)
        tokens = task.fields.get("tokens", 0)
        return Text(f"{done / elapsed:6.1f} samples/s {tokens / elapsed:8.1f} tok/s",
                    style="progress.data.speed")


class RichReporter:
    """Progress bars per model on the terminal (stderr), errors printed above them."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}", style="bold", markup=False),  # a run label
            BarColumn(),
            MofNCompleteColumn(),
            _Rate(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, label: str, total: int, done: int) -> None:
        self.tasks[label] = self.progress.add_task(
            label, total=total, completed=done, tokens=0, done0=done
        )

    def advance(self, label: str, samples: int, tokens: int) -> None:
        task = self.tasks[label]
        current = self.progress.tasks[self._index(task)].fields.get("tokens", 0)
        self.progress.update(task, advance=samples, tokens=current + tokens)

    def _index(self, task: TaskID) -> int:
        return next(i for i, t in enumerate(self.progress.tasks) if t.id == task)

    def error(self, label: str, message: str) -> None:
        self.progress.console.print(Text.assemble((label, "red"), f": {message}"),
                                    highlight=False)

    def stop(self, label: str) -> None:
        self.progress.stop_task(self.tasks[label])


class SampleCommand(click.Command):
    """``sample``, with ``--backend`` and the backend options read from the backend registry.

    Built when the command is used rather than at import, so a backend registered in
    :data:`reachscope.core.backends.registry.REGISTRY` needs no edit here.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backend_params: tuple[tuple[Any, ...], list[click.Parameter]] | None = None

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        backend = self._registry_params()
        out: list[click.Parameter] = []
        for param in super().get_params(ctx):
            if param.name == "backend":
                out.append(backend[0])
            elif param.name == "quiet":
                out.extend(backend[1:])
                out.append(param)
            else:
                out.append(param)
        return out

    def _registry_params(self) -> list[click.Parameter]:
        """``--backend`` and every backend option, rebuilt only when the registry changed."""
        key = tuple(REGISTRY.items())
        if self._backend_params is None or self._backend_params[0] != key:
            choice = next(p for p in self.params if p.name == "backend")
            assert isinstance(choice, click.Option)
            params: list[click.Parameter] = [click.Option(
                choice.opts, type=click.Choice(backend_names()), default=choice.default,
                show_default=True, help="Sampling backend: " + "; ".join(
                    f"{name}, {backend_class(name).description}" for name in backend_names()
                ) + ".",
            )]
            own = {p.name for p in self.params}
            for cli in cli_options():
                opt = cli.option
                if opt.name in own:  # a registry mistake: say so rather than shadow the option
                    raise RuntimeError(f"backends {'/'.join(cli.backends)} declare {opt.flag}, "
                                       f"an option of `sample` itself; rename theirs")
                # A bool option is a flag; left out it stays None, so it is not passed.
                shape: dict[str, Any] = {"is_flag": True} if opt.type is bool else \
                    {"type": opt.type, "multiple": opt.multiple}
                params.append(click.Option(
                    [opt.flag], default=None, envvar=opt.envvar,
                    show_envvar=opt.envvar is not None, help=cli.help, **shape,
                ))
            self._backend_params = (key, params)
        return self._backend_params[1]


def _load_run_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    out = {k.replace("-", "_"): v for k, v in data.items()}
    models = out.get("model")
    if isinstance(models, dict):  # [model] table: label = "path"
        out["model"] = [f"{k}={v}" for k, v in models.items()]
    elif isinstance(models, str):
        out["model"] = [models]
    if isinstance(out.get("base_url"), str):
        out["base_url"] = [out["base_url"]]
    return out


def build_config(values: dict[str, Any]) -> Any:
    """Turn merged option values into a :class:`~reachscope.core.sampling.SampleConfig`."""
    from reachscope.core.sampling import SampleConfig, parse_model

    if not values.get("db"):
        raise click.UsageError("missing --db (or `db` in the run file)")
    if not values.get("dataset"):
        raise click.UsageError("missing --dataset (or `dataset` in the run file)")
    if not values.get("model"):
        raise click.UsageError("missing --model label=path (or `model` in the run file)")
    backend = values["backend"]
    try:
        options = backend_kwargs(backend, values, int(values["seed"]))
    except BackendError as exc:  # another backend's option, a missing one, an unknown backend
        raise click.UsageError(str(exc)) from exc
    if values.get("logprobs") and not backend_class(backend).gives_logprobs:
        raise click.UsageError(
            f"--logprobs needs a backend that returns log-probabilities while sampling "
            f"({', '.join(n for n in backend_names() if backend_class(n).gives_logprobs)}); "
            f"with {backend}, score the run afterwards: reachscope score DB --scorer LABEL=PATH "
            f"(exact entropy under --backend hf)")
    return SampleConfig(
        db=Path(values["db"]),
        dataset=str(values["dataset"]),
        models=[parse_model(m) for m in values["model"]],
        backend=backend,
        n=int(values["n"]),
        temperature=float(values["temperature"]),
        top_p=float(values["top_p"]),
        top_k=values.get("top_k"),
        max_tokens=int(values["max_tokens"]),
        seed=int(values["seed"]),
        template=str(values["template"]),
        chat_template=bool(values["chat_template"]),
        limit=values.get("limit"),
        batch_size=int(values["batch_size"]),
        grader=values.get("grader"),
        grade_workers=int(values["grade_workers"]),
        logprobs=values.get("logprobs"),
        backend_options=options,
        dataset_options={k: values[k] for k in DATASET_OPTIONS if values.get(k)},
        dataset_name=values.get("dataset_name"),
        argv=list(sys.argv),
    )


@click.command("sample", cls=SampleCommand)
@click.option("--config", "run_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML run file with the same keys as the options (options given win).")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Database file.")
@click.option("--dataset", help="Shipped dataset name or a JSONL/JSON/CSV/Parquet file.")
@click.option("--model", "model", multiple=True, metavar="LABEL=PATH",
              help="Model to sample (repeat for several); the label names the run.")
@click.option("--backend", default="vllm")  # choices and help: SampleCommand, from the registry
@click.option("--n", type=click.IntRange(min=1), default=1, show_default=True,
              help="Samples per problem.")
@click.option("--temperature", type=float, default=0.6, show_default=True)
@click.option("--top-p", type=float, default=0.95, show_default=True)
@click.option("--top-k", type=int, default=None)
@click.option("--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--template", default="qwen-boxed", show_default=True,
              help="Built-in prompt template (qwen-boxed, plain, boxed, direct) or a file "
                   "with {problem}.")
@click.option("--chat-template", is_flag=True,
              help="Send the rendered template as a user message through the chat template.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Sample only the first N problems.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Samples per database transaction.")
@click.option("--grader", default=None,
              help="Grader (default: by dataset kind); 'none' stores samples ungraded.")
@click.option("--grade-workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--logprobs", type=click.IntRange(min=1, max=20), default=None, metavar="K",
              help="vllm/openai: store each sample's log-likelihood under its own model (scorer "
                   "LABEL:sampler: sum and mean log-prob, and a mean token entropy from the "
                   "top-K log-probabilities, renormalised: a lower bound).")
@click.option("--problem-field", default=None, help="User datasets: field with the problem.")
@click.option("--answer-field", default=None, help="User datasets: field with the answer.")
@click.option("--id-field", default=None, help="User datasets: field with the problem id.")
@click.option("--dataset-name", default=None,
              help="Name to store a user dataset under (default: the file name's stem).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.pass_context
@user_errors
def sample_command(ctx: click.Context, run_file: Path | None, quiet: bool, **options: Any) -> None:
    """Sample completions from models into a database, grading them as they are written.

    Running the same command again resumes: only missing (problem, sample index) pairs are
    generated. Ctrl-C stops cleanly and marks the run interrupted.

    \b
    Example:
      reachscope sample --db runs.db --dataset math500 --model base=Qwen/Qwen2.5-7B \\
        --model rl=/models/qwen-rl --n 128 --temperature 0.6 --top-p 0.95 \\
        --max-tokens 16384 --seed 0 --backend vllm

    \b
    A run file holds the same keys (dashes or underscores), models as a table:
      db = "runs.db"
      dataset = "math500"
      n = 128
      [model]
      base = "Qwen/Qwen2.5-7B"
    """
    from reachscope.core.datasets import DatasetError
    from reachscope.core.prompts import TemplateError
    from reachscope.core.sampling import SamplingError, run_sampling

    values = dict(options)
    if run_file is not None:
        from_file = _load_run_file(run_file)
        unknown = set(from_file) - set(values)
        if unknown:
            raise click.UsageError(f"{run_file}: unknown key(s) {', '.join(sorted(unknown))}")
        for key, value in from_file.items():
            source = ctx.get_parameter_source(key)
            if source not in (click.core.ParameterSource.COMMANDLINE,
                              click.core.ParameterSource.ENVIRONMENT):
                values[key] = value
    config = build_config(values)
    console = text_console(stderr=True, quiet=quiet)
    reporter = RichReporter(console)
    try:
        with reporter:
            outcomes = run_sampling(config, reporter)
    except KeyboardInterrupt:
        # Printed even under --quiet: the user must know the run stopped and how to resume.
        click.echo(
            f"interrupted: stored samples are kept and the run is marked interrupted; rerun the "
            f"same command (or `reachscope grade {config.db}`) to resume and grade the rest",
            err=True,
        )
        # Every write is committed and the database closed by now; the interpreter's own
        # teardown (torch, transformers) can take seconds, so the process ends here.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    except (BackendError, DatasetError, SamplingError, TemplateError) as exc:
        raise click.ClickException(str(exc)) from exc
    _summary(console, outcomes)
    if any(o.status != "finished" or o.grade_failed for o in outcomes):
        ctx.exit(1)


def _summary(console: Console, outcomes: list[Any]) -> None:
    """A table per model on stdout (unless quiet), and what failed on stderr (always)."""
    table = Table(title="sampling summary")
    for col in ("model", "run", "status", "new samples", "graded", "grade failed", "tokens",
                "tok/s", "errors"):
        table.add_column(col, justify="right" if col not in ("model", "status") else "left")
    for o in outcomes:
        table.add_row(o.label, str(o.run_id), o.status, str(o.written), str(o.graded),
                      str(o.grade_failed), str(o.tokens), f"{o.tokens_per_s:.1f}",
                      str(len(o.errors)))
    if not console.quiet:
        text_console().print(table)
    errors = text_console(stderr=True)
    for o in outcomes:
        for err in o.errors[:20]:
            errors.print(Text.assemble((o.label, "red"), f": {err}"), highlight=False)
        if len(o.errors) > 20:
            errors.print(Text.assemble((o.label, "red"),
                                       f": ... {len(o.errors) - 20} more errors"))
        if o.grade_failed:
            first = o.grade_errors[0] if o.grade_errors else "unknown error"
            errors.print(Text.assemble(
                (o.label, "red"), f": {o.grade_failed} samples in {o.grade_failed_batches} "
                f"grading batch(es) left ungraded ({first}); run `reachscope grade` to grade them"),
                highlight=False, soft_wrap=True,
            )
