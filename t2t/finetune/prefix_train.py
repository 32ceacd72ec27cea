"""Training on a CPU when every example starts with the same long prompt: encode it once a step.

An agent's SFT examples share their first ≈ 4,400 tokens (the policy and the tool schemas) and
the loss is on the assistant's turns only, all of them after it. On 2 CPU cores, a forward and
backward pass over a whole 7,600-token retail example takes minutes; here each optimizer step
encodes the shared prefix once, without gradients, with the model's current weights, and runs
forward and backward over each example's own tokens on top of it. What the model sees is
exactly what it sees when it serves (the prefix's keys and values are its own, recomputed every
step); what is given up is the gradient through the prefix's positions, so the model learns how
to act on the policy and tools, not how to encode them. LoRA adapters (merged when saved), AdamW,
linear decay.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from t2t.core.errors import ConfigError
from t2t.llm.hf_models import require
from t2t.llm.local_engine import kv_layers

__all__ = ["PrefixRun", "shared_prefix", "suffix_loss", "train_on_shared_prefix"]


@dataclass
class PrefixRun:
    """What the loop did: the trained (merged) model and the loss per optimizer step."""

    model: Any
    losses: list[float]
    steps: int
    prefix_tokens: int


def shared_prefix(rows: list[dict[str, list[int]]]) -> int:
    """Tokens every example starts with, stopping before the first one the loss is on."""
    if not rows:
        return 0
    first = rows[0]["input_ids"]
    length = min(len(row["input_ids"]) for row in rows)
    for row in rows:
        ids = row["input_ids"]
        length = next((i for i in range(length) if ids[i] != first[i]), length)
        marked = next((i for i, m in enumerate(row["assistant_masks"]) if m), len(ids))
        length = min(length, marked)
    return max(length - 1, 0)  # the token before the first learned one predicts it: keep it out


def train_on_shared_prefix(
    model: Any,
    train_rows: list[dict[str, list[int]]],
    *,
    epochs: float,
    learning_rate: float,
    batch_size: int,
    betas: tuple[float, float],
    lora_r: int,
    lora_alpha: int,
    seed: int,
    top_layers: int | None = None,
    progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
) -> PrefixRun:
    """LoRA-train `model` on `train_rows` (token ids + assistant masks), prefix encoded once a step.

    `top_layers` puts the adapters on the last N layers only: the backward pass then stops there,
    which on a CPU roughly halves a step for N = a third of the layers.

    Raises:
        ConfigError: The examples share no prefix worth reusing.
    """
    torch = require("torch")
    peft = require("peft")
    prefix_length = shared_prefix(train_rows)
    if prefix_length < 1:
        raise ConfigError("the examples share no prompt prefix; train without --shared-prefix")
    prefix = torch.tensor([train_rows[0]["input_ids"][:prefix_length]])
    torch.manual_seed(seed)
    layers = model.config.num_hidden_layers
    lora = peft.LoraConfig(
        r=lora_r,
        lora_alpha=lora_alpha,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        if top_layers
        else "all-linear",
        layers_to_transform=list(range(layers - top_layers, layers)) if top_layers else None,
    )
    model = peft.get_peft_model(model, lora)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, betas=betas, weight_decay=0.0)
    order = list(range(len(train_rows)))
    shuffler = random.Random(seed)
    passes: list[int] = []
    for _ in range(int(-(-epochs // 1))):
        shuffler.shuffle(order)
        passes.extend(order)
    passes = passes[: max(1, round(epochs * len(train_rows)))]
    batches = [passes[i : i + batch_size] for i in range(0, len(passes), batch_size)]
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1 - step / len(batches))
    )
    tqdm = require("tqdm.auto").tqdm
    losses = []
    for step, batch in enumerate(tqdm(batches, desc="training", disable=not progress), 1):
        layers = _encoded(torch, model, prefix)
        tokens = _learned_tokens([train_rows[i] for i in batch], prefix_length)
        total = 0.0
        for index in batch:
            loss_sum = _suffix_loss(torch, model, train_rows[index], layers, prefix_length)
            (loss_sum / max(tokens, 1)).backward()
            total += float(loss_sum.detach())
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(total / max(tokens, 1), 6))
        if on_step is not None:
            on_step(step, losses[-1])
    merged = model.merge_and_unload().eval()
    return PrefixRun(merged, losses, len(batches), prefix_length)


def suffix_loss(model: Any, rows: list[dict[str, list[int]]], prefix_length: int) -> float:
    """Mean loss per assistant token of `rows` on top of their shared prefix (no gradients)."""
    torch = require("torch")
    if not rows:
        return float("nan")
    prefix = torch.tensor([rows[0]["input_ids"][:prefix_length]])
    layers = _encoded(torch, model, prefix)
    with torch.no_grad():
        total = sum(float(_suffix_loss(torch, model, row, layers, prefix_length)) for row in rows)
    return total / max(_learned_tokens(rows, prefix_length), 1)


def _encoded(torch: Any, model: Any, prefix: Any) -> list[tuple[Any, Any]]:
    """The shared prefix's keys and values with the model's current weights, no gradients."""
    with torch.no_grad():
        return kv_layers(model(input_ids=prefix, use_cache=True).cache)


def _learned_tokens(rows: list[dict[str, list[int]]], prefix_length: int) -> int:
    """Assistant tokens after the prefix: the ones a loss is summed over."""
    return sum(sum(row["assistant_masks"][prefix_length + 1 :]) for row in rows)


def _suffix_loss(
    torch: Any, model: Any, row: dict[str, list[int]], layers: list[Any], prefix_length: int
) -> Any:
    """Summed cross-entropy over the row's assistant tokens after the prefix."""
    transformers = require("transformers")
    cache = transformers.DynamicCache(ddp_cache_data=[(k, v) for k, v in layers])
    ids = torch.tensor([row["input_ids"][prefix_length:]])
    logits = model(input_ids=ids, cache=cache, use_cache=True).logits[0, :-1]
    labels = ids[0, 1:].clone()
    mask = torch.tensor(row["assistant_masks"][prefix_length + 1 :], dtype=torch.bool)
    labels[~mask] = -100
    return torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100, reduction="sum")
