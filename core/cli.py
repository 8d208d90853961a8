"""The `reachscope` command line. Each command lives in its own module under commands/ and is
imported only when invoked, so `reachscope --help` stays fast and heavy dependencies (torch,
vllm, textual) load only for the commands that need them."""

from __future__ import annotations

import importlib
import importlib.util

import click

#: command name -> "module:attribute" under reachscope.core.commands
COMMANDS: dict[str, tuple[str, str]] = {
    "import": ("imports", "import_group", ),
    "runs": ("runs", "runs_command"),
    "report": ("report", "report_command"),
    "export": ("export", "export_command"),
    "plot": ("plot", "plot_command"),
    "grade": ("grade", "grade_command"),
    "audit": ("audit", "audit_command"),
    "score": ("score", "score_command"),
    "merge": ("merge", "merge_command"),
    "review": ("review", "review_command"),
    "judge": ("judge", "judge_command"),
    "sample": ("sample", "sample_command"),
    "tui": ("tui", "tui_command"),
    "serve": ("tui", "serve_command"),
}

HELP: dict[str, str] = {
    "import": "Import samples or counts from files (paper format, JSONL, counts CSV).",
    "runs": "List the runs in a database.",
    "report": "pass@k table, coverage, crossover and bootstrap for runs.",
    "export": "Samples, grades, counts, the report or labels to parquet, CSV or JSONL.",
    "plot": "A figure (pass@k, coverage, histogram, trajectory, perplexity) to PDF/PNG/SVG.",
    "grade": "Grade (or re-grade) stored samples.",
    "audit": "Samples where two graders disagree.",
    "score": "Log-likelihood of stored samples under scorer models, and its report.",
    "merge": "Merge databases sampled apart (one per node or seed) into one.",
    "review": "Reasoning review: a queue of rare correct samples to label, its status.",
    "judge": "Label a review queue by an LLM judge on an OpenAI-compatible server.",
    "sample": "Sample completions from models into a database.",
    "tui": "Open the terminal app on a database (default: the demo database).",
    "serve": "Serve the terminal app to a browser.",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._available(name)]

    def _available(self, name: str) -> bool:
        module, _ = COMMANDS[name]
        return importlib.util.find_spec(f"reachscope.core.commands.{module}") is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not self._available(cmd_name):
            return None
        module, attr = COMMANDS[cmd_name]
        mod = importlib.import_module(f"reachscope.core.commands.{module}")
        cmd = getattr(mod, attr)
        assert isinstance(cmd, click.Command)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, HELP.get(name, "")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reachscope")
def cli() -> None:
    """reachscope: did RL make the model reason better, or only sample better?

    Store many samples per problem from base and RL models in one SQLite file, grade them,
    and compare pass@k curves and coverage.
    """


def main() -> None:
    """Console entry point."""
    cli(prog_name="reachscope")


if __name__ == "__main__":
    main()
