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


def check_readable(path: Path, immutable: bool = False) -> None:
    """Open ``path`` read-only once, to fail with a clear message before the app starts; side
    files this check made are removed again."""
    import sqlite3

    from reachscope.store import StoreError, open_db
    from reachscope.store.db import release_side_files, side_files

    before = side_files(path)
    try:
        open_db(path, read_only=True, immutable=immutable).close()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except sqlite3.DatabaseError as exc:  # open_db sets pragmas before its own check
        raise click.ClickException(f"{path}: not a reachscope database ({exc})") from exc
    finally:
        if not immutable:
            release_side_files(path, before)


def default_reviewer(reviewer: str | None) -> str:
    """The reviewer given, else the user name (labels are one per sample and reviewer)."""
    if reviewer is not None:
        return reviewer
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment (a container uid)
        return ""


IMMUTABLE_HELP = ("Open the file as immutable (no locks, no -shm file): for a database in a "
                  "directory you cannot write. Safe only while nothing writes the file.")


@click.command("tui")
@click.argument("db", required=False, type=click.Path(dir_okay=False))
@click.option("--immutable", is_flag=True, help=IMMUTABLE_HELP)
@click.option("--reviewer", default=None,
              help="Name stored with your labels (default: your user name).")
def tui_command(db: str | None, immutable: bool, reviewer: str | None) -> None:
    """Open the app on DB (default: the demo database). The file is opened read-only; only
    saving an annotation writes to it."""
    path = resolve_db(db)
    check_readable(path, immutable)
    from reachscope.tui.app import create_app

    create_app(path, immutable=immutable, reviewer=default_reviewer(reviewer)).run()


@click.command("serve")
@click.argument("db", required=False, type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind: 127.0.0.1 serves this machine only; 0.0.0.0 (or a "
                   "network address) lets other machines connect.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--allow-labels", is_flag=True,
              help="Let browser sessions save labels (default: read-only).")
@click.option("--max-sessions", default=4, show_default=True, type=click.IntRange(1),
              help="Browser sessions (app processes) at once.")
def serve_command(db: str | None, host: str, port: int, allow_labels: bool,
                  max_sessions: int) -> None:
    """Serve the app on DB to a browser (each browser tab runs its own app process).

    Open the URL printed at start: it carries a random token, without which the server answers
    403. Websockets from other sites' pages (a foreign Origin) are refused."""
    path = resolve_db(db).resolve()
    check_readable(path)
    from reachscope.tui.serve import GuardedServer

    argv = [sys.executable, "-m", "reachscope.tui", str(path)]
    if allow_labels:
        argv.append("--allow-labels")
    GuardedServer(shlex.join(argv), host=host, port=port, max_sessions=max_sessions).serve()
