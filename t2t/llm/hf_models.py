"""HF models and tokenizers for training and serving: loaded lazily, with one clear error each.

transformers, torch and trl come with the optional `train` extra; without it every entry point
here raises a `MissingDependencyError` that says how to install it, never an ImportError traceback.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from t2t.core.errors import ConfigError, MissingDependencyError

__all__ = ["load_causal_lm", "load_tokenizer", "require", "with_response_parser"]


def require(module: str) -> Any:
    """Import one of the `train` extra's modules, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(module, "train") from None


def _where(name: str) -> str:
    return f"{name} (a folder)" if Path(name).exists() else f"{name} (not a folder here: a hub id)"


def load_tokenizer(name: str | Path) -> Any:
    """A tokenizer that has a chat template (tools are rendered through it)."""
    transformers = require("transformers")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(name))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load a tokenizer from {_where(str(name))}: {exc}") from None
    if not tokenizer.chat_template:
        raise ConfigError(f"{name}: the tokenizer has no chat template; t2t needs one with tools")
    return tokenizer


def load_causal_lm(name: str | Path, **kwargs: Any) -> Any:
    """A causal LM in evaluation mode, on the GPU when there is one."""
    transformers = require("transformers")
    torch = require("torch")
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(str(name), **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load a causal LM from {_where(str(name))}: {exc}") from None
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model.eval()


def with_response_parser(tokenizer: Any, name: str) -> Any:
    """The tokenizer with a `response_template`, so `parse_response` reads its tool calls.

    Tokenizers that ship one keep it; TRL knows the templates of common families (Qwen2.5/3,
    Llama 3.x, …) and adds theirs. Any other template gets a clear error naming the way out.
    """
    if getattr(tokenizer, "response_template", None) is not None:
        return tokenizer
    chat_templates = require("trl.chat_template_utils")
    try:
        return chat_templates.add_response_schema(tokenizer)
    except ValueError:
        raise ConfigError(
            f"{name}: t2t cannot read tool calls in this chat template's format (no "
            "response_template, and not a family TRL knows). Set tokenizer.response_template, or "
            "serve the model with vLLM and its tool parser and run it as hosted_vllm/<name>"
        ) from None
