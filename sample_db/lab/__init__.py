"""A laptop-scale RLVR experiment: a synthetic arithmetic task, a base model trained from scratch on
noisy multi-strategy traces, and its GRPO-trained version (issue 6).

Nothing here is imported by the reachscope package; the scripts run as ``python -m sample_db.lab.X``
from the repository root.
"""
