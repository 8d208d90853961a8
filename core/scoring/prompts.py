"""The exact prompt of a run's samples, recovered from what the run stored (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from reachscope.store.models import Run

from ..prompts import PLACEHOLDER, load_template
from .base import ScoringError


@dataclass(frozen=True)
class PromptRecipe:
    """How a run's prompts are made.

    Attributes:
        text: the template whose ``{problem}`` is replaced by the problem text (for chat runs,
            the chat template already applied around it, as the sampler recorded it).
        add_special_tokens: the generating backend's tokenisation of the prompt (hf sampled
            without special tokens; vLLM and servers add them).
        source: where the template came from, for messages.
    """

    text: str
    add_special_tokens: bool
    source: str

    def render(self, problem: str) -> str:
        """The prompt of one problem."""
        return self.text.replace(PLACEHOLDER, problem)


def run_prompt(run: Run, template: str | None = None) -> PromptRecipe:
    """The prompt recipe of ``run``: its stored template, or ``template`` where given.

    Args:
        run: a run with samples.
        template: a built-in template name or file, for runs that stored none (imports) or to
            override what they stored.

    Raises:
        ScoringError: no template stored and none given, or a chat run whose rendered chat
            template was not recorded (a server rendered it).
    """
    special = run.backend != "hf"
    if template is not None:
        try:
            chosen = load_template(template)
        except ValueError as exc:
            raise ScoringError(str(exc)) from exc
        return PromptRecipe(chosen.text, special, f"--template {template}")
    text = run.params.get("template_text") or run.prompt_template
    if not text:
        raise ScoringError(f"run {run.ref} stored no prompt template (an import?): name the "
                           "template its samples were generated with, --template NAME|FILE")
    if run.params.get("chat_template"):
        chat = run.provenance.get("chat_prompt_template")
        if not chat:
            raise ScoringError(f"run {run.ref} was sampled through a chat template that was not "
                               "recorded: give the exact prompt template with --template FILE")
        return PromptRecipe(str(chat), special, "the run's chat prompt")
    return PromptRecipe(str(text), special, "the run's template")
