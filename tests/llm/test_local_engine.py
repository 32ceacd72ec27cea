"""The local engine: prefix KV reuse and batched decoding give the plain path's greedy replies.

On the tiny random-weight model (seconds); `tests/test_real_model.py` does the same with SmolLM2.
"""

import json
import logging

import pytest

pytest.importorskip("trl", reason="the train extra: pip install -e '.[train]'")

from t2t.benchmark.agent import agent_system_prompt  # noqa: E402
from t2t.core.errors import ConfigError  # noqa: E402
from t2t.finetune.tiny_model import TinyModelConfig, build_tiny_model  # noqa: E402
from t2t.llm.chat_templates import adopt_tool_template, known_tool_templates  # noqa: E402
from t2t.llm.hf_models import load_causal_lm, load_tokenizer  # noqa: E402
from t2t.llm.local_engine import GenerationRequest, LocalEngine  # noqa: E402

USERS = [
    "I want to return the water bottle from order #W2378156.",
    "Please cancel my pending order, I ordered it by mistake.",
    "Can you change the shipping address of my order?",
    "I'd like to exchange my keyboard for one with clicky switches.",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, retail):
    texts = [retail.policy, json.dumps(retail.tool_schemas()), *USERS]
    folder = build_tiny_model(
        tmp_path_factory.mktemp("engine") / "tiny", texts, TinyModelConfig(vocab_size=600)
    )
    tokenizer = load_tokenizer(folder)
    return folder, tokenizer, load_causal_lm(folder)


def _prompt(tokenizer, retail, *turns):
    messages = [{"role": "system", "content": agent_system_prompt(retail)}]
    for index, text in enumerate(turns):
        messages.append({"role": "user" if index % 2 == 0 else "assistant", "content": text})
    rendered = tokenizer.apply_chat_template(
        messages, tools=retail.tool_schemas(), add_generation_prompt=True, tokenize=False
    )
    return tuple(tokenizer(rendered, add_special_tokens=False)["input_ids"])


def _plain(model, ids, n, tokenizer):
    import torch

    with torch.inference_mode():
        out = model.generate(
            torch.tensor([ids]),
            max_new_tokens=n,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    return _until_end(out[0, len(ids) :].tolist(), tokenizer)


def _until_end(tokens, tokenizer):
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    return tokens[: tokens.index(end) + 1] if end in tokens else tokens


def _engine(model, tokenizer, **kwargs):
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    return LocalEngine(model, eos_token_ids=[end], pad_token_id=tokenizer.pad_token_id, **kwargs)


def test_concurrent_replies_are_batched_reuse_the_prefix_and_match_the_plain_path(tiny, retail):
    _, tokenizer, model = tiny
    prompts = [_prompt(tokenizer, retail, text) for text in USERS]
    engine = _engine(model, tokenizer)
    futures = [engine.submit(GenerationRequest(ids, 12)) for ids in prompts]
    replies = [future.result() for future in futures]
    assert replies == [_plain(model, ids, 12, tokenizer) for ids in prompts]
    assert engine.stats.largest_batch > 1  # decoded together, not one by one
    # every prompt after the first starts from the shared policy and tools
    assert engine.stats.reused_tokens >= 3 * (len(prompts[0]) - 40)
    engine.close()


def test_the_next_turn_starts_from_the_conversation_so_far(tiny, retail):
    _, tokenizer, model = tiny
    engine = _engine(model, tokenizer)
    first = _prompt(tokenizer, retail, USERS[0])
    reply = engine.generate(GenerationRequest(first, 10))
    said = tokenizer.decode(reply, skip_special_tokens=True)
    second = _prompt(tokenizer, retail, USERS[0], said, "Thanks. Go ahead.")
    before = engine.stats.reused_tokens
    assert engine.generate(GenerationRequest(second, 10)) == _plain(model, second, 10, tokenizer)
    assert engine.stats.reused_tokens - before >= len(first) - 1
    engine.close()


def test_requests_join_a_batch_already_decoding_and_leave_it_when_done(tiny, retail):
    """A request arriving mid-decoding joins at the next step (not after the slowest reply),
    rows of different lengths leave as they finish, and every reply is the one it gets alone."""
    import time

    _, tokenizer, model = tiny
    prompts = [_prompt(tokenizer, retail, text) for text in USERS]
    engine = _engine(model, tokenizer)
    engine.generate(GenerationRequest(prompts[0], 2))  # the shared prefix, cached
    long = engine.submit(GenerationRequest(prompts[0], 400))
    while engine.stats.decode_steps < 8 and not long.done():
        time.sleep(0.001)
    steps = engine.stats.decode_steps
    lengths = (5, 17, 9)
    joined = [
        engine.submit(GenerationRequest(ids, n))
        for ids, n in zip(prompts[1:], lengths, strict=True)
    ]
    replies = [future.result() for future in joined]
    assert not long.done()  # they finished while the long reply was still decoding
    assert engine.stats.decode_steps - steps < 400 - 8
    assert engine.stats.largest_batch == 4
    expected = [
        _plain(model, ids, n, tokenizer) for ids, n in zip(prompts[1:], lengths, strict=True)
    ]
    assert replies == expected
    assert long.result() == _plain(model, prompts[0], 400, tokenizer)
    engine.close()


def test_a_running_batch_fills_free_slots_in_place_and_lays_out_anew_only_when_needed(tiny, retail):
    import torch

    from t2t.llm.local_engine import kv_layers
    from t2t.llm.running_batch import RunningBatch

    _, tokenizer, model = tiny
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    short, other = sorted((_prompt(tokenizer, retail, text) for text in USERS[1:3]), key=len)
    longer = _prompt(tokenizer, retail, USERS[0], "Sure, which item?", "The water bottle.")
    assert len(short) < len(other) < len(longer)

    def joining(name, ids, n):
        ids = torch.tensor(ids)
        with torch.inference_mode():
            cache = model(input_ids=ids[None, :-1], use_cache=True).cache
        return (name, ids, kv_layers(cache), n)

    batch = RunningBatch(model, [end], slots=3)
    replies = {}
    with torch.inference_mode():
        batch.add([joining("other", other, 30)])
        batch.step()
        batch.add([joining("short", short, 6)])  # shorter, room for its reply: a free slot
        assert batch.relayouts == 1 and len(batch) == 2
        while "short" not in replies:
            replies.update((row.owner, row.reply) for row in batch.step())
        batch.add([joining("longer", longer, 5)])  # longer than the rows: laid out anew
        assert batch.relayouts == 2
        while len(batch):
            replies.update((row.owner, row.reply) for row in batch.step())
    for name, ids, n in (("other", other, 30), ("short", short, 6), ("longer", longer, 5)):
        assert replies[name] == _plain(model, ids, n, tokenizer), name
    with pytest.raises(ValueError, match="no room"):
        batch.add([joining(str(i), short, 2) for i in range(4)])


def test_the_plain_mode_reuses_nothing_and_gives_the_same_replies(tiny, retail):
    _, tokenizer, model = tiny
    prompts = [_prompt(tokenizer, retail, text) for text in USERS[:2]]
    engine = _engine(model, tokenizer, reuse=False)
    replies = [engine.generate(GenerationRequest(ids, 8)) for ids in prompts]
    assert replies == [_plain(model, ids, 8, tokenizer) for ids in prompts]
    assert engine.stats.reused_tokens == 0 and engine.stats.largest_batch == 1
    engine.close()


def test_sampling_is_seeded_and_a_bad_request_fails_alone(tiny, retail):
    _, tokenizer, model = tiny
    engine = _engine(model, tokenizer)
    ids = _prompt(tokenizer, retail, USERS[1])
    sampled = [
        engine.generate(GenerationRequest(ids, 12, temperature=1.5, seed=seed))
        for seed in (1, 1, 2)
    ]
    assert sampled[0] == sampled[1]
    assert sampled[0] != sampled[2]
    with pytest.raises(ValueError, match="fewer than 2 tokens"):
        engine.generate(GenerationRequest((5,), 4))
    assert engine.generate(GenerationRequest(ids, 4))  # the worker goes on
    engine.close()


def test_the_cache_keeps_within_its_memory_budget(tiny, retail):
    _, tokenizer, model = tiny
    prompts = [_prompt(tokenizer, retail, text) for text in USERS]
    engine = _engine(model, tokenizer)
    engine.generate(GenerationRequest(prompts[0], 4))
    one = sum(entry.nbytes for entry in engine._cache.values())
    engine.cache_bytes = int(one * 1.5)  # room for one prompt's cache, not two
    for ids in prompts[1:]:
        engine.generate(GenerationRequest(ids, 4))
    assert len(engine._cache) == 1
    assert sum(entry.nbytes for entry in engine._cache.values()) <= engine.cache_bytes
    engine.close()


@pytest.mark.parametrize("room", [6, 2])
def test_a_batch_cache_is_written_in_place_into_its_room(room):
    """Decoding writes into room allocated once (no copy of the cache per step); out of room it
    grows like transformers' own cache, with the same contents either way."""
    import torch

    from t2t.llm.running_batch import batched_cache

    rows = [[(torch.randn(1, 2, n, 4), torch.randn(1, 2, n, 4))] for n in (5, 3)]
    preallocated = batched_cache(rows, 5, room=room)
    grown = batched_cache(rows, 5, room=None)
    start = preallocated.layers[0].keys.data_ptr()
    for step in range(4):
        new = torch.randn(2, 2, 1, 4), torch.randn(2, 2, 1, 4)
        keys, values = preallocated.layers[0].update(*new)
        expected = grown.layers[0].update(*new)
        assert torch.equal(keys, expected[0]) and torch.equal(values, expected[1])
        assert (keys.data_ptr() == start) == (step < room)  # in place while there is room
    assert preallocated.get_seq_length() == grown.get_seq_length() == 9
    assert torch.equal(keys[1, :, :2], torch.zeros(2, 2, 4))  # the shorter row is left-padded


def test_a_chatml_template_without_tools_gets_qwen25s_with_a_notice(tiny, caplog):
    folder, _, _ = tiny
    tokenizer = load_tokenizer(folder)
    tokenizer.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    )
    with caplog.at_level(logging.WARNING):
        adopted = adopt_tool_template(tokenizer, "auto", name="smol")
    assert adopted.chat_template == known_tool_templates()["qwen2_5"]
    assert "smol: its chat template has no tool calling" in caplog.text
    kept = load_tokenizer(folder)  # the tiny model's own template has tools: kept as is
    assert adopt_tool_template(kept, "auto").chat_template == load_tokenizer(folder).chat_template


def test_a_named_template_needs_the_chatml_tokens(tiny):
    folder, _, _ = tiny
    tokenizer = load_tokenizer(folder)
    tokenizer.add_tokens([])  # unchanged vocabulary
    vocabulary = tokenizer.get_vocab()
    assert "<|im_start|>" in vocabulary
    plain = type("Plain", (), {"chat_template": "{{ x }}", "get_vocab": lambda self: {"a": 0}})()
    with pytest.raises(ConfigError, match="needs the ChatML tokens"):
        adopt_tool_template(plain, "qwen3", name="plain")
    assert adopt_tool_template(plain, "auto") is plain  # nothing to adopt: left alone
