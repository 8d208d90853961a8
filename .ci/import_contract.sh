#!/usr/bin/env bash
# The import-layer contract of pyproject.toml ([tool.importlinter]), checked on the source tree.
# The editable install maps `reachscope.*` through an import hook that import-linter cannot walk, so
# the packages are laid out as a plain `reachscope/` folder of links and put first on the path.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
TREE="$(mktemp -d)"
trap 'rm -rf "$TREE"' EXIT
mkdir "$TREE/reachscope"
for pkg in core store tui sample_db; do ln -s "$ROOT/$pkg" "$TREE/reachscope/$pkg"; done
PYTHONPATH="$TREE" .venv/bin/lint-imports --no-cache --config "$ROOT/pyproject.toml"
