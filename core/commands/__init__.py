"""CLI commands, one module each (loaded lazily by reachscope.core.cli)."""
