"""``python -m reachscope.tui DB``: what `reachscope serve` runs for each browser session."""

from __future__ import annotations

import sys

from .app import create_app


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m reachscope.tui DATABASE")
    create_app(sys.argv[1]).run()


if __name__ == "__main__":
    main()
