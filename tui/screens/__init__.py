"""Screens of the reachscope app, one per module."""
