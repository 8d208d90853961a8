"""reachscope core: datasets, prompts, sampling backends, graders, metrics, importers, CLI."""

# The store goes first: it imports sqlite-utils without dragging in pandas (see store/db.py),
# and every module here imports sqlite-utils after it.
from reachscope import store as _store  # noqa: F401
