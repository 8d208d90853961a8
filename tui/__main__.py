"""``python -m reachscope.tui DB``: what `reachscope serve` runs for each browser session."""

from __future__ import annotations

import sys

from .app import create_app


def main() -> None:
    args = sys.argv[1:]
    allow_labels = "--allow-labels" in args
    args = [a for a in args if a != "--allow-labels"]
    if len(args) != 1:
        sys.exit("usage: python -m reachscope.tui DATABASE [--allow-labels]")
    create_app(args[0], allow_labels=allow_labels).run()


if __name__ == "__main__":
    main()
