"""`reachscope tui` and `reachscope serve`: the terminal app, in a terminal or a browser.

Textual is imported inside the commands only, so the rest of the CLI never loads it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click



def resolve_db(db: str | None) -> Path:
    """The database to open: the one given, else the demo database."""
    if db is not None:
        path = Path(db)
        if not path.exists():
            raise click.ClickException(f"{path}: no such database")
        return path
    from reachscope.core.demo import demo_db_path

    try:
        return demo_db_path()
    except FileNotFoundError as exc:
        raise click.ClickException(
            f"no database given and {exc}; pass a DB path, or rebuild the demo with "
            "sample_db/build.py") from exc


@click.command("tui")
@click.argument("db", required=False, type=click.Path(dir_okay=False))
def tui_command(db: str | None) -> None:
    """Open the app on DB (default: the demo database). The file is opened read-only; only
    saving an annotation writes to it."""
    path = resolve_db(db)
    import sqlite3

    from reachscope.store import StoreError, open_db

    try:  # fail here, with a clear message, rather than inside the app
        open_db(path, read_only=True).close()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except sqlite3.DatabaseError as exc:  # open_db sets pragmas before its own check
        raise click.ClickException(f"{path}: not a reachscope database ({exc})") from exc
    from reachscope.tui.app import create_app

    create_app(path).run()


@click.command("serve")
@click.argument("db", required=False, type=click.Path(dir_okay=False))
@click.option("--host", default="localhost", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve_command(db: str | None, host: str, port: int) -> None:
    """Serve the app on DB to a browser (each browser tab runs its own app process)."""
    path = resolve_db(db).resolve()
    from textual_serve.server import Server

    command = shlex.join([sys.executable, "-m", "reachscope.tui", str(path)])
    Server(command, host=host, port=port, title="reachscope").serve()
