"""Scoring stored samples: the log-likelihood of each completion under scorer models.

``base`` (items, the scorer interface, the tokenisation rule, the registry), ``prompts`` (the
exact prompt of a run's samples, recovered from what the run stored), one module per scoring
backend (``hf``, ``vllm``, ``openai``), and ``run`` (the thin part that pages samples from the
database, scores them in batches and writes each batch in one transaction).
"""

from .base import SCORERS, ScoreItem, Scorer, ScoringError, make_scorer, scorer_names
from .prompts import PromptRecipe, run_prompt
from .run import ScoreSummary, score_run

__all__ = [
    "SCORERS",
    "PromptRecipe",
    "ScoreItem",
    "ScoreSummary",
    "Scorer",
    "ScoringError",
    "make_scorer",
    "run_prompt",
    "score_run",
    "scorer_names",
]
