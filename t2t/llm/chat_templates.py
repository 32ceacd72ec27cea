"""Tool calling for chat templates that lack it: adopt a known one with the same special tokens.

SmolLM2 and other ChatML models ship a template that drops `tools` and tool calls on the floor.
TRL ships Qwen2.5's ChatML template with tools, its `{% generation %}` training version and its
response schema; a ChatML tokenizer (the `<|im_start|>`/`<|im_end|>` tokens) can take it as is,
so serving (`parse_response`) and training (assistant-only loss) both go through one template.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from t2t.core.errors import ConfigError
from t2t.llm.hf_models import require

__all__ = ["TemplateChoice", "adopt_tool_template", "known_tool_templates", "supports_tools"]

TemplateChoice = Literal["auto", "keep", "qwen2_5", "qwen3"]
_LOG = logging.getLogger(__name__)
_CHATML_TOKENS = ("<|im_start|>", "<|im_end|>")
_TOOL_MARKERS = ("tools", "tool_calls")


def known_tool_templates() -> dict[str, str]:
    """TRL's ChatML tool-calling templates, by name."""
    templates = require("trl.chat_template_utils")
    return {
        "qwen2_5": templates.qwen2_5_chat_template,
        "qwen3": templates.qwen3_chat_template,
    }


def supports_tools(template: str | None) -> bool:
    """Whether a chat template renders tools and tool calls at all."""
    return bool(template) and all(marker in str(template) for marker in _TOOL_MARKERS)


def _is_chatml(tokenizer: Any) -> bool:
    vocabulary = tokenizer.get_vocab()
    return all(token in vocabulary for token in _CHATML_TOKENS)


def adopt_tool_template(tokenizer: Any, choice: TemplateChoice = "auto", *, name: str = "") -> Any:
    """`tokenizer` with a tool-calling chat template: its own, or a known ChatML one.

    `auto` keeps a template that renders tools and gives a ChatML tokenizer without one Qwen2.5's,
    with a one-line notice; `qwen2_5`/`qwen3` force that template; `keep` changes nothing.

    Raises:
        ConfigError: A named template on a tokenizer without the ChatML special tokens.
    """
    if choice == "keep" or (choice == "auto" and supports_tools(tokenizer.chat_template)):
        return tokenizer
    if not _is_chatml(tokenizer):
        if choice == "auto":
            return tokenizer
        raise ConfigError(
            f"{name or 'this tokenizer'}: the {choice} template needs the ChatML tokens "
            f"{' and '.join(_CHATML_TOKENS)}, which this vocabulary lacks"
        )
    adopted = "qwen2_5" if choice == "auto" else choice
    if choice == "auto":
        _LOG.warning(
            "%s: its chat template has no tool calling; using TRL's %s template (same ChatML "
            "tokens) for serving and training",
            name or "model",
            adopted,
        )
    tokenizer.chat_template = known_tool_templates()[adopted]
    return tokenizer
