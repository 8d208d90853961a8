"""Prompt templates: how a problem becomes the text (or chat turn) sent to a model.

A template is plain text with a ``{problem}`` placeholder. Only that placeholder is replaced
(no ``str.format``), so LaTeX braces such as ``\\boxed{}`` are kept as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PLACEHOLDER = "{problem}"

#: The prompt of Yue et al. (2025): Qwen's ChatML, sent as a raw prompt to base and RL models.
QWEN_BOXED = (
    "<|im_start|>system\nPlease reason step by step, and put your final answer within "
    "\\boxed{}.<|im_end|>\n<|im_start|>user\n{problem}<|im_end|>\n<|im_start|>assistant\n"
)

BUILTIN: dict[str, str] = {
    "qwen-boxed": QWEN_BOXED,
    "plain": PLACEHOLDER,
    "boxed": "{problem}\nPlease reason step by step, and put your final answer within \\boxed{}.",
    # The guessability probe of a reasoning review (README, "Reasoning review"): the answer
    # with no reasoning; sample it with a short --max-tokens (16 or so).
    "direct": "{problem}\nDo not explain or show any work. Reply with only the final answer, "
              "within \\boxed{}.",
}


class TemplateError(ValueError):
    """A template name or file that cannot be used."""


@dataclass(frozen=True)
class PromptTemplate:
    """A named template.

    Attributes:
        name: built-in name, or the file it was read from.
        text: the template text with one ``{problem}``.
        chat: send the rendered text as a user message through the model's chat template
            instead of as a raw prompt.
    """

    name: str
    text: str
    chat: bool = False

    def render(self, problem: str) -> str:
        """The template with the problem put in."""
        return self.text.replace(PLACEHOLDER, problem)

    def messages(self, problem: str) -> list[dict[str, str]]:
        """The chat turns for a problem (for chat templates)."""
        return [{"role": "user", "content": self.render(problem)}]


def load_template(spec: str, chat: bool = False) -> PromptTemplate:
    """Resolve a built-in name or a template file.

    Args:
        spec: a name in :data:`BUILTIN` or the path of a UTF-8 text file.
        chat: wrap the rendered text in the model's chat template.

    Raises:
        TemplateError: unknown name, unreadable file, or no ``{problem}`` in the text.
    """
    if spec in BUILTIN:
        text = BUILTIN[spec]
    else:
        path = Path(spec)
        if not path.is_file():
            raise TemplateError(
                f"prompt template {spec!r}: not a built-in ({', '.join(BUILTIN)}) nor a file"
            )
        text = path.read_text(encoding="utf-8")
    if PLACEHOLDER not in text:
        raise TemplateError(f"prompt template {spec!r} has no {PLACEHOLDER} placeholder")
    return PromptTemplate(spec, text, chat)
