"""A local HF model as an agent: `model="hf-local/<folder or hub id>"` runs it with transformers.

A litellm custom provider (`t2t.llm.register_provider`), so the runner, cache and accounting are
the ones every model goes through. Each turn renders the conversation and the tools through the
model's own chat template, generates, and reads the reply back with the tokenizer's
`parse_response` (its `response_template`, or the one TRL knows for the family: Qwen2.5/3,
Llama 3.x, …). A tool call that does not parse becomes a call with its raw text as arguments,
so the agent is told its call was malformed and the episode goes on.

A ChatML model whose template has no tool calling (SmolLM2) gets TRL's Qwen2.5 template, with
a one-line notice (`t2t.llm.chat_templates`).

Generation is greedy unless the agent's `temperature` is above 0; sampling is then seeded by
the task, trial and turn, so a re-run gives the same episode. Models load once per process; a
`LocalEngine` per model reuses the KV cache of the shared policy and tools and of each episode's
conversation so far, and decodes concurrent episodes' replies as one batch
(`t2t.llm.local_engine`). Bigger models belong on a GPU server: serve them with vLLM and run
`hosted_vllm/<name>` (see the README).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from t2t.core.errors import ConfigError
from t2t.core.schema import Message, ToolCall
from t2t.llm.chat_templates import adopt_tool_template
from t2t.llm.completion import Completion
from t2t.llm.hf_models import load_causal_lm, load_tokenizer, require, with_response_parser
from t2t.llm.local_engine import EngineStats, GenerationRequest, LocalEngine
from t2t.llm.messages import RAW_ARGUMENTS_KEY, hf_messages, to_openai_messages
from t2t.llm.providers import ProviderRequest, register_model, register_provider

__all__ = [
    "LOCAL_PROVIDER",
    "EngineOptions",
    "answer_sync",
    "check_local_model",
    "engine_stats",
    "is_local",
    "local_name",
    "model_fingerprint",
    "parse_reply",
    "register_local_model",
    "set_engine_options",
]

LOCAL_PROVIDER = "hf-local"
DEFAULT_MAX_NEW_TOKENS = 512
_CALL_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')


def is_local(model: str) -> bool:
    return model.split("/", 1)[0] == LOCAL_PROVIDER


def local_name(model: str) -> str:
    """The folder or hub id inside `hf-local/<name>`."""
    return model.split("/", 1)[1] if is_local(model) else model


def check_local_model(model: str) -> None:
    """Fail before a run starts, not in every episode: the extra is there, the folder exists."""
    if not is_local(model):
        return
    name = local_name(model)
    if not name:
        raise ConfigError(f"{model}: give a model folder or hub id after {LOCAL_PROVIDER}/")
    require("transformers")
    require("torch")
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") != 1
    if looks_like_path and not Path(name).expanduser().is_dir():
        raise ConfigError(f"{model}: {name} is not a model folder")


def model_fingerprint(model: str) -> str | None:
    """What identifies a local model folder's weights (names, sizes, mtimes), for run hashes.

    Retraining into the same folder changes it, so a resumed run or a cached reply never passes
    off the old model's episodes as the new one's. None for anything but a local folder.
    """
    if not is_local(model):
        return None
    folder = Path(local_name(model)).expanduser()
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16]


def register_local_model(model: str, *, load: bool = False) -> None:
    """Route `hf-local/...` to this provider and price `model` at zero (it runs here).

    `load=True` loads the model now, so a name that cannot be loaded fails before a run starts.
    """
    register_provider(LOCAL_PROVIDER, _answer)
    register_model(model, input_cost_per_token=0, output_cost_per_token=0)
    if load:
        _load(local_name(model))


@dataclass(frozen=True)
class EngineOptions:
    """How local models generate: prefix reuse and batching on (`reuse=False`: the plain path)."""

    reuse: bool = True
    max_batch: int = 8
    cache_mb: int = 2048


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    engine: LocalEngine = field(repr=False)


_LOADED: dict[tuple[str, str | None], _Loaded] = {}
_LOADING = threading.Lock()
_OPTIONS = EngineOptions()


def set_engine_options(options: EngineOptions) -> None:
    """Generate with `options` from now on (models loaded already get a fresh engine)."""
    global _OPTIONS
    with _LOADING:
        _OPTIONS = options
        for loaded in _LOADED.values():
            loaded.engine.close()
            loaded.engine = _engine(loaded.model, loaded.tokenizer)


def engine_stats(model: str) -> EngineStats | None:
    """What the engine of a loaded `hf-local/...` model did (prefix reuse, batch sizes)."""
    name = local_name(model)
    found = [loaded for key, loaded in _LOADED.items() if key[0] == name]
    return found[-1].engine.stats if found else None


def _engine(model: Any, tokenizer: Any) -> LocalEngine:
    ends = model.generation_config.eos_token_id
    ends = [ends] if isinstance(ends, int) else list(ends or [tokenizer.eos_token_id])
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else ends[0]
    return LocalEngine(
        model,
        eos_token_ids=ends,
        pad_token_id=pad,
        cache_mb=_OPTIONS.cache_mb,
        max_batch=_OPTIONS.max_batch,
        reuse=_OPTIONS.reuse,
    )


def _load(name: str) -> _Loaded:
    """The model loaded once per process, and again when its folder's weights change."""
    key = (name, model_fingerprint(f"{LOCAL_PROVIDER}/{name}"))
    with _LOADING:
        if key not in _LOADED:
            for stale in [k for k in _LOADED if k[0] == name]:
                _LOADED.pop(stale).engine.close()
            for other in _LOADED.values():  # a comparison moves on to this model: free memory
                other.engine.clear()
            tokenizer = adopt_tool_template(load_tokenizer(name), "auto", name=name)
            tokenizer = with_response_parser(tokenizer, name)
            model = load_causal_lm(name)
            _LOADED[key] = _Loaded(model, tokenizer, _engine(model, tokenizer))
        return _LOADED[key]


async def _answer(request: ProviderRequest) -> Completion:
    loaded = await asyncio.to_thread(_load, local_name(request.model))
    prompt, generation = _prepare(loaded, request)
    tokens = await asyncio.wrap_future(loaded.engine.submit(generation))
    return _completion(loaded, request, prompt, generation, tokens)


def answer_sync(request: ProviderRequest) -> Completion:
    """The reply to one request, waiting for it (the HTTP server's path)."""
    loaded = _load(local_name(request.model))
    prompt, generation = _prepare(loaded, request)
    tokens = loaded.engine.generate(generation)
    return _completion(loaded, request, prompt, generation, tokens)


def _prepare(loaded: _Loaded, request: ProviderRequest) -> tuple[str, GenerationRequest]:
    messages = hf_messages(to_openai_messages(request.messages))  # bad arguments: {}
    prompt = loaded.tokenizer.apply_chat_template(
        messages,
        tools=request.tools or None,
        add_generation_prompt=True,
        tokenize=False,
        enable_thinking=False,  # Qwen3: answer at once, as in the SFT data (templates ignore it)
    )
    ids = loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    params = request.params
    temperature = float(params.get("temperature") or 0.0)
    generation = GenerationRequest(
        prompt_ids=tuple(ids),
        max_new_tokens=int(params.get("max_tokens") or DEFAULT_MAX_NEW_TOKENS),
        temperature=temperature,
        top_p=float(params.get("top_p") or 1.0),
        seed=_seed(request) if temperature > 0 else 0,
    )
    return prompt, generation


def _completion(
    loaded: _Loaded,
    request: ProviderRequest,
    prompt: str,
    generation: GenerationRequest,
    tokens: list[int],
) -> Completion:
    text = loaded.tokenizer.decode(tokens, skip_special_tokens=False)
    return Completion(
        message=parse_reply(loaded.tokenizer, text, prompt, request.tools),
        prompt_tokens=len(generation.prompt_ids),
        completion_tokens=len(tokens),
        model=request.model,
    )


def _seed(request: ProviderRequest) -> int:
    metadata = request.params.get("metadata") or {}
    key = f"{metadata.get('t2t_task_id')}/{metadata.get('t2t_trial')}/{len(request.messages)}"
    return int.from_bytes(hashlib.blake2b(key.encode()).digest()[:4], "big")


def parse_reply(tokenizer: Any, text: str, prompt: str, tools: list[dict[str, Any]]) -> Message:
    """The assistant message in `text`: content and tool calls, through `parse_response`.

    A reply that does not parse (malformed JSON in a tool call, say) keeps its text: as a tool
    call with raw arguments when it opened one, as plain content otherwise.
    """
    try:
        parsed = tokenizer.parse_response(text, prefix=prompt, tools=tools or None)
    except (ValueError, TypeError, KeyError):
        return _unparsed(tokenizer, text)
    if not isinstance(parsed, dict):
        return _unparsed(tokenizer, text)
    calls = []
    for index, call in enumerate(parsed.get("tool_calls") or []):
        function = call.get("function", call) if isinstance(call, dict) else None
        if not isinstance(function, dict):
            return _unparsed(tokenizer, text)
        arguments = function.get("arguments")
        if not isinstance(arguments, dict):
            arguments = {RAW_ARGUMENTS_KEY: str(arguments)}
        name = function.get("name")
        if not isinstance(name, str) or not name:
            return _unparsed(tokenizer, text)
        calls.append(ToolCall(name=name, arguments=arguments, id=f"call_{index}"))
    content = parsed.get("content")
    content = content.strip() if isinstance(content, str) and content.strip() else None
    return Message(role="assistant", content=content, tool_calls=calls or None)


def _unparsed(tokenizer: Any, text: str) -> Message:
    plain = text
    for token in tokenizer.all_special_tokens:
        plain = plain.replace(token, "")
    plain = plain.strip()
    if "<tool_call>" in text or _CALL_NAME.search(text):
        match = _CALL_NAME.search(text)
        name = match.group(1) if match else "malformed_tool_call"
        call = ToolCall(name=name, arguments={RAW_ARGUMENTS_KEY: plain}, id="call_0")
        return Message(role="assistant", tool_calls=[call])
    return Message(role="assistant", content=plain or None)
