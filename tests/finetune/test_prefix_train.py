"""Shared-prefix training: the same loss as a plain pass, and it learns (tiny model, seconds)."""

import json

import pytest
from conftest import ORDER_TOOLS as TOOLS
from pydantic import ValidationError

pytest.importorskip("trl", reason="the train extra: pip install -e '.[train]'")

from t2t.core.errors import ConfigError  # noqa: E402
from t2t.finetune.prefix_train import (  # noqa: E402
    shared_prefix,
    suffix_loss,
    train_on_shared_prefix,
)
from t2t.finetune.tiny_model import TinyModelConfig, build_tiny_model  # noqa: E402
from t2t.finetune.train import TrainConfig, tokenize_examples  # noqa: E402
from t2t.llm.hf_models import load_causal_lm, load_tokenizer  # noqa: E402

SYSTEM = {"role": "system", "content": "You are a customer service agent. " * 8}


def _example(order_id):
    call = {
        "type": "function",
        "function": {"name": "get_order_details", "arguments": {"order_id": order_id}},
    }
    return {
        "messages": [
            SYSTEM,
            {"role": "user", "content": f"What is the status of my order {order_id}?"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "content": json.dumps({"order_id": order_id, "status": "delivered"})},
            {"role": "assistant", "content": f"Order {order_id} was delivered."},
        ],
        "tools": TOOLS,
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    examples = [_example(f"#W{n}000000") for n in range(1, 7)]
    texts = [json.dumps(e) for e in examples]
    folder = build_tiny_model(
        tmp_path_factory.mktemp("prefix") / "tiny", texts, TinyModelConfig(vocab_size=400)
    )
    tokenizer = load_tokenizer(folder)
    return folder, tokenize_examples(tokenizer, examples)


def _plain_loss(model, rows):
    import torch

    total, tokens = 0.0, 0
    with torch.no_grad():
        for row in rows:
            ids = torch.tensor([row["input_ids"]])
            logits = model(input_ids=ids).logits[0, :-1]
            labels = ids[0, 1:].clone()
            labels[~torch.tensor(row["assistant_masks"][1:], dtype=torch.bool)] = -100
            total += float(torch.nn.functional.cross_entropy(logits, labels, reduction="sum"))
            tokens += sum(row["assistant_masks"][1:])
    return total / tokens


def _train(model, rows, **settings):
    """`train_on_shared_prefix` with small defaults; `settings` overrides them."""
    defaults = {"epochs": 1, "learning_rate": 1e-3, "batch_size": 2, "betas": (0.9, 0.95)}
    defaults |= {"lora_r": 8, "lora_alpha": 16, "seed": 0, "progress": False}
    return train_on_shared_prefix(model, rows, **(defaults | settings))


def test_the_prefix_stops_before_the_first_learned_token(tiny):
    _, rows = tiny
    length = shared_prefix(rows)
    first_learned = min(row["assistant_masks"].index(1) for row in rows)
    assert 0 < length < first_learned
    assert all(row["input_ids"][:length] == rows[0]["input_ids"][:length] for row in rows)
    assert shared_prefix([]) == 0


def test_the_loss_on_top_of_the_prefix_is_the_plain_loss(tiny):
    folder, rows = tiny
    model = load_causal_lm(folder)
    assert suffix_loss(model, rows, shared_prefix(rows)) == pytest.approx(
        _plain_loss(model, rows), rel=1e-4
    )


def test_training_lowers_the_loss_and_gives_a_plain_model(tiny):
    folder, rows = tiny
    model = load_causal_lm(folder)
    before = _plain_loss(model, rows)
    run = _train(model, rows, epochs=4, learning_rate=3e-2, batch_size=3, top_layers=None)
    assert run.steps == 8 and len(run.losses) == 8
    assert _plain_loss(run.model, rows) < before - 0.3
    assert not hasattr(run.model, "peft_config")  # merged: saves and serves as a plain model


def test_shared_prefix_training_is_lora_only():
    with pytest.raises(ValidationError, match="add --lora"):
        TrainConfig(base="m", data="d", shared_prefix=True)


def test_examples_that_share_no_prompt_are_refused(tiny):
    folder, rows = tiny
    other = {**rows[0], "input_ids": [rows[0]["input_ids"][0] + 1, *rows[0]["input_ids"][1:]]}
    with pytest.raises(ConfigError, match="share no prompt prefix"):
        _train(load_causal_lm(folder), [rows[1], other], lora_r=4, lora_alpha=8)
