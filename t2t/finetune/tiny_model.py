"""A tiny causal LM built on this machine, so the fine-tuning loop runs offline in seconds.

It is a miniature Qwen3: the same architecture class and chat template (TRL's copy of Qwen3's,
with tools and `<tool_call>` JSON), so training, tool-call parsing and serving take exactly the
code path a real Qwen3 takes. Its weights are random (seeded) and its byte-level BPE tokenizer is
trained on the SFT data it will learn from, which keeps prompts (policy + tool schemas) short.
Nothing is downloaded. It learns the format, not the job: expect it to call tools, not to pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from t2t.core.errors import ConfigError
from t2t.core.files import write_json
from t2t.finetune.sft import read_examples
from t2t.llm.hf_models import require

__all__ = ["SPECIAL_TOKENS", "TinyModelConfig", "build_tiny_model", "corpus"]

# Qwen3's special tokens that its chat template writes
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)


class TinyModelConfig(BaseModel):
    """Sizes of the tiny model: about 0.6 M parameters with the defaults."""

    model_config = ConfigDict(extra="forbid")
    vocab_size: int = Field(2048, ge=len(SPECIAL_TOKENS) + 256)
    hidden_size: int = Field(64, ge=8)
    layers: int = Field(2, ge=1)
    heads: int = Field(4, ge=1)
    max_positions: int = Field(32768, ge=512, description="RoPE: costs no parameters")
    seed: int = 0


def corpus(data_dir: str | Path) -> Iterable[str]:
    """Texts to train the tokenizer on: every message and tool schema of the training split."""
    for example in read_examples(Path(data_dir) / "hf" / "train.jsonl"):
        yield json.dumps(example.get("tools", []), ensure_ascii=False)
        for message in example["messages"]:
            yield message.get("content") or ""
            for call in message.get("tool_calls") or []:
                yield json.dumps(call["function"], ensure_ascii=False)


def build_tiny_model(
    out: str | Path,
    texts: Iterable[str],
    config: TinyModelConfig | None = None,
    *,
    force: bool = False,
) -> Path:
    """Train a tokenizer on `texts`, build a random Qwen3-shaped model, save both to `out`."""
    config = config or TinyModelConfig()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; give a folder for the model")
    if (out / "config.json").exists() and not force:
        raise ConfigError(f"{out} holds a model; pass --force to replace it")
    tokenizers = require("tokenizers")
    transformers = require("transformers")
    torch = require("torch")
    chat_templates = require("trl.chat_template_utils")

    texts = [text for text in texts if text]
    if not texts:
        raise ConfigError("no text to train the tokenizer on: is the training split empty?")
    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE())
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=config.vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    wrapped = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=config.max_positions,
    )
    wrapped.chat_template = chat_templates.qwen3_chat_template

    torch.manual_seed(config.seed)
    head_dim = max(config.hidden_size // config.heads, 4)
    model_config = transformers.Qwen3Config(
        vocab_size=len(wrapped),
        hidden_size=config.hidden_size,
        intermediate_size=config.hidden_size * 2,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        num_key_value_heads=max(config.heads // 2, 1),
        head_dim=head_dim,
        max_position_embeddings=config.max_positions,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=wrapped.eos_token_id,
        pad_token_id=wrapped.pad_token_id,
    )
    model = transformers.Qwen3ForCausalLM(model_config)
    model.generation_config.eos_token_id = wrapped.eos_token_id
    model.generation_config.pad_token_id = wrapped.pad_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    wrapped.save_pretrained(out)
    write_json(out / "t2t_tiny_model.json", config)
    return out
