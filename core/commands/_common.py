"""Shared pieces of the CLI commands."""

from __future__ import annotations

import functools
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import sqlite_utils
from reachscope.store import StoreError, open_db

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])


def text_console(**kwargs: Any) -> Console:
    """A rich Console that prints strings as they are (``markup=False``), in tables too.

    Run labels, reviewer names, answers and error messages are the user's or the model's text:
    read as markup, a label ``rl[/]`` raised MarkupError and ``[b]base`` lost its bracket.
    Styled output is built as rich ``Text`` instead.
    """
    from rich.console import Console

    return Console(markup=False, **kwargs)


def user_errors(func: F) -> F:
    """Turn expected failures (bad input, unknown run, locked DB) into one-line CLI errors."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
        except sqlite3.DatabaseError as exc:
            raise click.ClickException(f"database error: {exc}") from exc
        except ValueError as exc:
            # Only a command that imported the importers can raise their error: looking it up
            # here, rather than importing the package (graders, datasets: ~35 ms), keeps
            # `report` and the other read commands quick to start.
            records = sys.modules.get("reachscope.core.importers.records")
            if records is not None and isinstance(exc, records.ImportFormatError):
                raise click.ClickException(str(exc)) from exc
            raise

    return wrapper  # type: ignore[return-value]


def open_existing(path: Path, read_only: bool = True) -> sqlite_utils.Database:
    """Open a database that must already exist."""
    if not path.exists():
        raise StoreError(f"{path}: no such database")
    return open_db(path, read_only=read_only)


def split_refs(*specs: str) -> tuple[str, ...]:
    """Run labels (or checkpoint orders) given as repeated options, arguments or comma lists
    (``--runs base --runs rl``, ``base rl``, ``base,rl``), in order, empty parts dropped."""
    return tuple(ref for spec in specs for ref in spec.split(",") if ref)


db_argument = click.argument("db", type=click.Path(dir_okay=False, path_type=Path))

#: A DB argument that may be left out: the command then reads the shipped demo database.
optional_db_argument = click.argument("db", required=False,
                                      type=click.Path(dir_okay=False, path_type=Path))


def db_or_demo(path: Path | None) -> Path:
    """The database given, else the shipped demo database (a clear error where it is missing)."""
    if path is not None:
        return path
    from reachscope.core.demo import demo_db_path

    try:
        return demo_db_path()
    except FileNotFoundError as exc:
        raise StoreError(f"no database given and {exc}; pass a DB path") from exc
