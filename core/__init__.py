"""reachscope core."""
