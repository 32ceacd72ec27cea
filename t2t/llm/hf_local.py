"""A local HF model as an agent: `model="hf-local/<folder or hub id>"` runs it with transformers.

A litellm custom provider (`t2t.llm.register_provider`), so the runner, cache and accounting are
the ones every model goes through. Each turn renders the conversation and the tools through the
model's own chat template, generates, and reads the reply back with the tokenizer's
`parse_response` (its `response_template`, or the one TRL knows for the family: Qwen2.5/3,
Llama 3.x, …). A tool call that does not parse becomes a call with its raw text as arguments,
so the agent is told its call was malformed and the episode goes on.

Generation is greedy unless the agent's `temperature` is above 0; sampling is then seeded by
the task, trial and turn, so a re-run gives the same episode. Models load once per process and
generate one at a time (a lock per model) in a worker thread, off the event loop. Bigger models
belong on a GPU server: serve them with vLLM and run `hosted_vllm/<name>` (see the README).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2t.core.errors import ConfigError
from t2t.core.schema import Message, ToolCall
from t2t.llm.completion import Completion
from t2t.llm.hf_models import load_causal_lm, load_tokenizer, require, with_response_parser
from t2t.llm.messages import RAW_ARGUMENTS_KEY, hf_messages, to_openai_messages
from t2t.llm.providers import ProviderRequest, register_model, register_provider

__all__ = [
    "LOCAL_PROVIDER",
    "check_local_model",
    "is_local",
    "local_name",
    "model_fingerprint",
    "parse_reply",
    "register_local_model",
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


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    lock: threading.Lock


_LOADED: dict[tuple[str, str | None], _Loaded] = {}
_LOADING = threading.Lock()


def _load(name: str) -> _Loaded:
    """The model loaded once per process, and again when its folder's weights change."""
    key = (name, model_fingerprint(f"{LOCAL_PROVIDER}/{name}"))
    with _LOADING:
        if key not in _LOADED:
            for stale in [k for k in _LOADED if k[0] == name]:
                del _LOADED[stale]
            tokenizer = with_response_parser(load_tokenizer(name), name)
            _LOADED[key] = _Loaded(load_causal_lm(name), tokenizer, threading.Lock())
        return _LOADED[key]


async def _answer(request: ProviderRequest) -> Completion:
    return await asyncio.to_thread(_generate, request)


def _generate(request: ProviderRequest) -> Completion:
    torch = require("torch")
    name = local_name(request.model)
    loaded = _load(name)
    tokenizer, model = loaded.tokenizer, loaded.model
    messages = hf_messages(to_openai_messages(request.messages))  # bad arguments: {}
    prompt = tokenizer.apply_chat_template(
        messages,
        tools=request.tools or None,
        add_generation_prompt=True,
        tokenize=False,
        enable_thinking=False,  # Qwen3: answer at once, as in the SFT data (templates ignore it)
    )
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    params = request.params
    temperature = float(params.get("temperature") or 0.0)
    options: dict[str, Any] = {
        "max_new_tokens": int(params.get("max_tokens") or DEFAULT_MAX_NEW_TOKENS),
        "do_sample": temperature > 0,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if temperature > 0:
        options.update(temperature=temperature, top_p=float(params.get("top_p") or 1.0))
    with loaded.lock, torch.inference_mode():
        if temperature > 0:
            torch.manual_seed(_seed(request))
        output = model.generate(**inputs, **options)
    new_tokens = output[0, inputs["input_ids"].shape[1] :]
    text = tokenizer.decode(new_tokens, skip_special_tokens=False)
    message = parse_reply(tokenizer, text, prompt, request.tools)
    return Completion(
        message=message,
        prompt_tokens=int(inputs["input_ids"].shape[1]),
        completion_tokens=len(new_tokens),
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
