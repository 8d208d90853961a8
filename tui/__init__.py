"""reachscope tui."""
