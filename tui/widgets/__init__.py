"""Reusable widgets of the reachscope app."""
