"""The one door to language models: litellm behind a small typed API, imported only when called.

Everything above this layer speaks `t2t.schema.Message`; this module turns it into litellm's OpenAI
shape and back. Tool calls are read from `message.tool_calls` (never from `finish_reason`, which
providers fill inconsistently), and arguments that are not a JSON object are kept, undecoded,
under `RAW_ARGUMENTS_KEY` so the caller can tell the model its call was malformed.

Offline models (probes, replayed recordings) plug in with `register_provider`: a plain callable
`(ProviderRequest) -> Message | str` (sync or async) becomes a litellm custom provider, so
`model="<name>/anything"` routes to it and the whole stack runs without network or keys.

A disk cache and retries will wrap `_call_litellm`; callers will not change.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from t2t.errors import ConfigError, ModelCallError
from t2t.schema import Message, ToolCall

__all__ = [
    "RAW_ARGUMENTS_KEY",
    "Completion",
    "ProviderHandler",
    "ProviderRequest",
    "complete",
    "complete_sync",
    "raw_arguments",
    "register_provider",
    "run_sync",
    "to_openai_messages",
    "model_timeout_s",
    "unregister_provider",
]

logger = logging.getLogger(__name__)

RAW_ARGUMENTS_KEY = "__raw__"
"""Key under which tool-call arguments that are not a JSON object are kept as received."""

_T = TypeVar("_T")
_SECRET = re.compile(r"\b(sk|pk|key|gsk|xai|hf)[-_][A-Za-z0-9_\-]{8,}")


class Completion(BaseModel):
    """One assistant reply, with what it cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message: Message
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    model: str
    finish_reason: str | None = None  # informational only: never decides whether tools were called

    @property
    def tool_calls(self) -> list[ToolCall]:
        return list(self.message.tool_calls or [])


class ProviderRequest(BaseModel):
    """What a registered offline provider receives: the chat as t2t messages, tools, params."""

    model_config = ConfigDict(extra="forbid")

    model: str
    messages: list[Message]
    tools: list[dict[str, Any]] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)


ProviderHandler = Callable[[ProviderRequest], "Message | str | Awaitable[Message | str]"]
"""An offline model: returns the assistant message (or just its text), optionally async."""


# ------------------------------------------------------------------------------------ litellm


def _litellm() -> Any:
    """litellm, imported on first use with the bundled cost map (no network at import)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # its banners go to stdout; we report errors ourselves
    return litellm


def _redact(text: str, params: dict[str, Any]) -> str:
    """Drop anything that looks like a key, and the api_key given, from a message we show."""
    secret = params.get("api_key")
    if isinstance(secret, str) and secret:
        text = text.replace(secret, "***")
    return _SECRET.sub("***", text)


# ---------------------------------------------------------------------------------- messages


def to_openai_messages(
    messages: Sequence[Message | dict[str, Any]], *, keep_raw: bool = False
) -> list[dict[str, Any]]:
    """t2t messages in the OpenAI chat shape litellm accepts; dicts pass through unchanged.

    Args:
        messages: The chat.
        keep_raw: Send malformed arguments as received (a provider's reply) instead of `{}`.
    """
    out = []
    for message in messages:
        if isinstance(message, dict):
            out.append(message)
            continue
        item: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.tool_calls:
            item["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": _encode_arguments(call, keep_raw)},
                }
                for call in message.tool_calls
            ]
        if message.tool_call_id is not None:
            item["tool_call_id"] = message.tool_call_id
        out.append(item)
    return out


def _encode_arguments(call: ToolCall, keep_raw: bool) -> str:
    # a malformed call goes back to a model as {}: some providers re-parse arguments and would
    # fail on it; the tool message that answers it quotes what the model actually sent
    raw = raw_arguments(call)
    if raw is not None:
        return raw if keep_raw else "{}"
    return json.dumps(call.arguments, ensure_ascii=False)


def raw_arguments(call: ToolCall) -> str | None:
    """The undecodable argument text of a malformed call, or None for a well-formed one."""
    if set(call.arguments) == {RAW_ARGUMENTS_KEY} and isinstance(
        call.arguments[RAW_ARGUMENTS_KEY], str
    ):
        return call.arguments[RAW_ARGUMENTS_KEY]
    return None


def _decode_arguments(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    text = arguments if isinstance(arguments, str) else str(arguments)
    try:
        decoded = json.loads(text)
    except ValueError:
        return {RAW_ARGUMENTS_KEY: text}
    return decoded if isinstance(decoded, dict) else {RAW_ARGUMENTS_KEY: text}


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _text(content: Any) -> str | None:
    """Message content as text: a string, or the text parts of a list of content parts."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(_field(part, "text") or "") for part in content)
    return str(content)


def _to_message(raw: Any) -> Message:
    """A litellm/OpenAI message (object or dict) as a t2t `Message`."""
    calls = []
    for call in _field(raw, "tool_calls") or []:
        function = _field(call, "function")
        calls.append(
            ToolCall(
                name=str(_field(function, "name") or ""),
                arguments=_decode_arguments(_field(function, "arguments")),
                id=_field(call, "id"),
            )
        )
    return Message(
        role=_field(raw, "role") or "assistant",
        content=_text(_field(raw, "content")),
        tool_calls=calls or None,
        tool_call_id=_field(raw, "tool_call_id"),
    )


# ------------------------------------------------------------------------------------ calling


def model_timeout_s() -> float:
    """Seconds one model call may take: `T2T_MODEL_TIMEOUT_S`, else 120."""
    raw = os.environ.get("T2T_MODEL_TIMEOUT_S", "120")
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"T2T_MODEL_TIMEOUT_S must be a number of seconds, not {raw!r}") from None


async def complete(
    model: str,
    messages: Sequence[Message] | Sequence[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    **params: Any,
) -> Completion:
    """One chat completion through litellm; any provider failure raises `ModelCallError`.

    Args:
        model: A litellm model name, e.g. "openai/gpt-4o-mini" or "<registered provider>/x".
        messages: The chat so far, as t2t messages or OpenAI-shaped dicts.
        tools: Function schemas in the OpenAI tools format (`Tool.openai_schema()`).
        **params: Passed to litellm as is (temperature, seed, api_base, ...).
    """
    params.setdefault("timeout", model_timeout_s())  # a silent server must not hang a run
    request: dict[str, Any] = {"model": model, "messages": to_openai_messages(messages), **params}
    if tools:
        request["tools"] = tools
    response = await _call_litellm(request)
    return _to_completion(model, response)


async def _call_litellm(request: dict[str, Any]) -> Any:
    """The raw litellm call: the seam where a cache and retries will go."""
    litellm = _litellm()
    logger.debug("model call: %s, %d messages", request["model"], len(request["messages"]))
    try:
        return await litellm.acompletion(**request)
    except Exception as exc:  # litellm maps every provider failure onto its own exception types
        message = _redact(f"{request['model']}: {type(exc).__name__}: {exc}", request)
        raise ModelCallError(message.splitlines()[0] if message else "model call failed") from exc


def _to_completion(model: str, response: Any) -> Completion:
    try:
        choice = response.choices[0]
    except (AttributeError, IndexError, TypeError):
        raise ModelCallError(f"{model}: the reply has no choices") from None
    message = _to_message(choice.message).model_copy(update={"role": "assistant"})
    usage = getattr(response, "usage", None)
    return Completion(
        message=message,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost_usd=_cost_usd(response),
        model=model,
        finish_reason=getattr(choice, "finish_reason", None),
    )


def _cost_usd(response: Any) -> float:
    """The reply's price per litellm, or 0.0 for models it cannot price (local, custom, new)."""
    hidden = getattr(response, "_hidden_params", None) or {}
    if isinstance(hidden.get("response_cost"), int | float):
        return float(hidden["response_cost"])
    try:
        return float(_litellm().completion_cost(completion_response=response) or 0.0)
    except Exception:  # unknown model or provider: litellm raises rather than returning None
        return 0.0


def complete_sync(
    model: str,
    messages: Sequence[Message] | Sequence[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    **params: Any,
) -> Completion:
    """`complete` for sync callers, safe inside Jupyter's running event loop."""
    return run_sync(complete(model, messages, tools, **params))


def run_sync(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion from sync code, even when a loop already runs here (Jupyter).

    Every sync call runs on one long-lived event loop in a background thread, so litellm's
    per-loop state (its logging worker, HTTP clients) lives as long as the process instead of
    being rebuilt, and leaked, on a fresh loop per call.
    """
    loop = _background_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coroutine.close()
        raise RuntimeError("run_sync called from inside t2t's model loop; await instead")
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result()


_LOOP: tuple[int, asyncio.AbstractEventLoop] | None = None
_LOOP_LOCK = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    """The process's model loop; a forked worker process starts its own (threads do not fork)."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None or _LOOP[0] != os.getpid() or _LOOP[1].is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="t2t-model-loop", daemon=True)
            thread.start()
            _LOOP = (os.getpid(), loop)
        return _LOOP[1]


# ---------------------------------------------------------------------------------- providers


def register_provider(name: str, handler: Any) -> None:
    """Route `model="<name>/..."` to an offline handler; a second call replaces the first.

    Args:
        name: The provider prefix.
        handler: A `ProviderHandler` callable, or a litellm `CustomLLM` instance used as is.
    """
    if not name or "/" in name:
        raise ValueError(f"a provider name is a non-empty prefix without '/', not {name!r}")
    litellm = _litellm()
    custom = handler if isinstance(handler, litellm.CustomLLM) else _custom_llm(handler)
    unregister_provider(name)
    litellm.custom_provider_map.append({"provider": name, "custom_handler": custom})


def unregister_provider(name: str) -> None:
    """Forget a provider registered with `register_provider` (no-op if unknown)."""
    litellm = _litellm()
    litellm.custom_provider_map[:] = [
        item for item in litellm.custom_provider_map if item["provider"] != name
    ]


def _custom_llm(handler: ProviderHandler) -> Any:
    """Wrap a t2t handler as a litellm `CustomLLM` (the class exists only once litellm loads)."""
    litellm = _litellm()

    class _Handler(litellm.CustomLLM):
        def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            reply = handler(_request(model, messages, kwargs))
            if inspect.isawaitable(reply):
                reply = run_sync(_awaited(reply))
            return _model_response(model, reply)

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            reply = handler(_request(model, messages, kwargs))
            if inspect.isawaitable(reply):
                reply = await reply
            return _model_response(model, reply)

    return _Handler()


async def _awaited(value: Awaitable[_T]) -> _T:
    return await value


def _request(model: str, messages: list, kwargs: dict[str, Any]) -> ProviderRequest:
    params = dict(kwargs.get("optional_params") or {})
    tools = params.pop("tools", None) or []
    return ProviderRequest(
        model=model, messages=[_to_message(m) for m in messages], tools=tools, params=params
    )


def _model_response(model: str, reply: Message | str) -> Any:
    if isinstance(reply, str):
        reply = Message(role="assistant", content=reply)
    if not isinstance(reply, Message):
        raise TypeError(f"a provider handler returns a Message or a str, not {type(reply)}")
    reply = reply.model_copy(update={"role": "assistant"})
    message = to_openai_messages([reply], keep_raw=True)[0]
    finish_reason = "tool_calls" if reply.tool_calls else "stop"
    return _litellm().ModelResponse(
        model=model,
        choices=[{"index": 0, "message": message, "finish_reason": finish_reason}],
        usage={"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    )
