"""The one door to language models: litellm behind a small typed API, imported only when called.

Everything above this layer speaks `core.schema.Message`; this module turns it into litellm's OpenAI
shape and back. Tool calls are read from `message.tool_calls` (never from `finish_reason`, which
providers fill inconsistently), and arguments that are not a JSON object are kept, undecoded,
under `RAW_ARGUMENTS_KEY` so the caller can tell the model its call was malformed.

Offline models (probes, replayed recordings) plug in with `register_provider`: a plain callable
`(ProviderRequest) -> Message | str` (sync or async) becomes a litellm custom provider, so
`model="<name>/anything"` routes to it and the whole stack runs without network or keys. A
handler that returns a `Completion` reports token usage, priced once `register_model` names a price.

Transient failures (rate limits, timeouts, lost connections, 5xx) are retried with jittered
exponential backoff; anything else, and anything an offline handler raises (except litellm's own
error types, raised on purpose to simulate them), fails at once. After the last try every failure
is a `ModelCallError`, secrets redacted. A `ModelCache` (or `T2T_CACHE_DIR`) keeps replies on
disk by request hash plus trial index, so trials differ but a re-run asks no model.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from t2t.core.errors import ModelCallError
from t2t.core.schema import Message, ToolCall
from t2t.core.settings import DEFAULT_MAX_RETRIES, cache_dir, is_secret_key, model_timeout_s
from t2t.core.settings import retry_wait_s as _default_retry_wait_s

__all__ = [
    "RAW_ARGUMENTS_KEY",
    "Completion",
    "ModelCache",
    "ProviderHandler",
    "ProviderRequest",
    "Usage",
    "cache_key",
    "complete",
    "complete_sync",
    "model_timeout_s",
    "raw_arguments",
    "register_model",
    "register_provider",
    "run_sync",
    "to_openai_messages",
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
    cached: bool = False  # served by a ModelCache: tokens and cost are the original call's

    @property
    def tool_calls(self) -> list[ToolCall]:
        return list(self.message.tool_calls or [])


class Usage(BaseModel):
    """Model calls summed over an episode or a run; cached calls count their original cost."""

    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, item: Completion | Usage) -> None:
        """Count one completion, or merge another tally."""
        if isinstance(item, Usage):
            calls, cached = item.calls, item.cached_calls
        else:
            calls, cached = 1, int(item.cached)
        self.calls += calls
        self.cached_calls += cached
        self.prompt_tokens += item.prompt_tokens
        self.completion_tokens += item.completion_tokens
        self.cost_usd += item.cost_usd


class ProviderRequest(BaseModel):
    """What a registered offline provider receives: the chat as t2t messages, tools, params."""

    model_config = ConfigDict(extra="forbid")

    model: str
    messages: list[Message]
    tools: list[dict[str, Any]] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)


ProviderHandler = Callable[
    [ProviderRequest], "Message | str | Completion | Awaitable[Message | str | Completion]"
]
"""An offline model: returns the assistant message (or just its text), optionally async.

Returning a `Completion` also reports its token counts; its cost is ignored (litellm prices the
tokens once `register_model` gave the model a price).
"""


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


async def complete(
    model: str,
    messages: Sequence[Message] | Sequence[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    trial: int | None = None,
    cache: ModelCache | str | Path | Literal[False] | None = None,
    max_retries: int | None = None,
    retry_wait_s: float | None = None,
    **params: Any,
) -> Completion:
    """One chat completion through litellm, cached and retried; failures raise `ModelCallError`.

    Args:
        model: A litellm model name, e.g. "openai/gpt-4o-mini" or "<registered provider>/x".
        messages: The chat so far, as t2t messages or OpenAI-shaped dicts.
        tools: Function schemas in the OpenAI tools format (`Tool.openai_schema()`).
        trial: Part of the cache key only, so repeated trials of one task get fresh replies.
        cache: A `ModelCache` or its folder; None uses `T2T_CACHE_DIR` if set; False never caches.
        max_retries: Retries after a transient failure (default 4).
        retry_wait_s: First backoff wait, doubling up to 30× (default `T2T_RETRY_WAIT_S` or 1).
        **params: Passed to litellm as is (temperature, seed, api_base, metadata, ...).
    """
    retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
    wait_s = _default_retry_wait_s() if retry_wait_s is None else retry_wait_s
    if retries < 0 or not wait_s >= 0:
        raise ValueError(f"max_retries and retry_wait_s must be >= 0, not {retries}, {wait_s}")
    store = _open_cache(cache)
    key = cache_key(model, messages, tools, trial=trial, **params) if store is not None else ""
    if store is not None and (hit := store.get(key)) is not None:
        return hit  # litellm is not even imported for a hit
    params.setdefault("timeout", model_timeout_s())  # a silent server must not hang a run
    request: dict[str, Any] = {"model": model, "messages": to_openai_messages(messages), **params}
    if tools:
        request["tools"] = tools
    completion = _to_completion(model, await _call_litellm(request, retries, wait_s))
    if store is not None:  # not `if store`: an empty cache has len() 0
        store.set(key, completion)
    return completion


def complete_sync(
    model: str,
    messages: Sequence[Message] | Sequence[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> Completion:
    """`complete` for sync callers, safe inside Jupyter's running event loop."""
    return run_sync(complete(model, messages, tools, **kwargs))


# ------------------------------------------------------------------------------------ retries

_MAX_WAIT_FACTOR = 30  # backoff caps at 30× the first wait: 1 s → 30 s by default
_TRANSIENT = (
    "RateLimitError",
    "Timeout",
    "APIConnectionError",
    "InternalServerError",
    "ServiceUnavailableError",
    "BadGatewayError",
)
_FROM_HANDLER = "_t2t_from_handler"  # marks an exception an offline handler raised itself


async def _call_litellm(request: dict[str, Any], retries: int, wait_s: float) -> Any:
    """The litellm call, retried on transient failures; the last failure as `ModelCallError`."""
    import tenacity  # ~250 ms: only when a model is really called

    litellm = _litellm()
    request = {**request, "max_retries": 0}  # ours are the only retries (the SDK's would multiply)
    attempts = 0

    async def attempt() -> Any:
        nonlocal attempts
        attempts += 1
        logger.debug("model call: %s, %d messages", request["model"], len(request["messages"]))
        return await litellm.acompletion(**request)

    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(retries + 1),
        wait=tenacity.wait_random_exponential(multiplier=wait_s, max=_MAX_WAIT_FACTOR * wait_s),
        retry=tenacity.retry_if_exception(_is_transient),
        before_sleep=lambda state: _log_retry(request, state),
        reraise=True,
    )
    try:
        return await retrying(attempt)
    except Exception as exc:  # litellm maps every provider failure onto its own exception types
        error = _model_call_error(request, _handler_error(exc) or exc, attempts)
        error.handler_error = _handler_error(exc)  # an offline handler's own bug, to re-raise
        raise error from exc


def _model_call_error(request: dict[str, Any], exc: BaseException, attempts: int) -> ModelCallError:
    """One redacted line naming the model and the failure."""
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    message = _redact(f"{request['model']}: {type(exc).__name__}: {exc}", request)
    return ModelCallError((message.splitlines()[0] if message else "model call failed") + tries)


def _is_transient(exc: BaseException) -> bool:
    """Worth another try: rate limits, timeouts, lost connections, 5xx; never 4xx or a bug."""
    if _handler_error(exc) is not None:
        return False  # litellm wraps a handler's own error as APIConnectionError
    litellm = _litellm()
    if isinstance(exc, tuple(getattr(litellm, name) for name in _TRANSIENT)):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and status >= 500  # e.g. a bare litellm.APIError


def _handler_error(exc: BaseException | None) -> BaseException | None:
    """The error an offline handler raised itself, if it caused this one."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if getattr(exc, _FROM_HANDLER, False):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _log_retry(request: dict[str, Any], state: Any) -> None:
    exc = state.outcome.exception() if state.outcome else None
    sleep_s = state.next_action.sleep if state.next_action else 0.0
    text = _redact(f"{type(exc).__name__}: {exc}", request).splitlines()[0]
    logger.warning(
        "%s: %s; retry %d in %.1f s", request["model"], text, state.attempt_number, sleep_s
    )


# -------------------------------------------------------------------------------------- cache

_NOT_IN_KEY = frozenset(
    {
        "timeout",
        "max_retries",
        "num_retries",
        "stream_timeout",
        "client",
        "headers",
        "extra_headers",
    }
)
_CACHE_KEY_VERSION = 1


def cache_key(
    model: str,
    messages: Sequence[Message] | Sequence[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    trial: int | None = None,
    **params: Any,
) -> str:
    """sha256 of the request's canonical JSON: all that can change the reply, never a secret."""
    kept = {k: v for k, v in params.items() if k not in _NOT_IN_KEY and not is_secret_key(k)}
    request = {
        "v": _CACHE_KEY_VERSION,
        "model": model,
        "messages": to_openai_messages(messages),  # as sent: the provider sees no more
        "tools": tools or [],
        "params": kept,
        "trial": trial,
    }
    text = json.dumps(
        request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_jsonable
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, type) and issubclass(value, BaseModel):  # litellm's response_format=Model
        return value.model_json_schema()
    return repr(value)  # an opaque object: at worst a cache miss


class ModelCache:
    """Replies on disk by `cache_key`; one folder may be shared by threads and processes."""

    def __init__(self, directory: str | Path) -> None:
        import diskcache  # ~120 ms: only when caching

        self.directory = Path(directory).expanduser()
        self._store = diskcache.Cache(str(self.directory))

    def get(self, key: str) -> Completion | None:
        """The stored reply, marked cached; None when absent or unreadable (asked again)."""
        try:
            raw = self._store.get(key)
            if raw is None:
                return None
            return Completion.model_validate_json(raw).model_copy(update={"cached": True})
        except Exception as exc:  # a cache is an optimisation: a bad entry must not fail a run
            logger.warning("model cache %s: unreadable entry (%s)", self.directory, exc)
            return None

    def set(self, key: str, completion: Completion) -> None:
        """Store a reply (as JSON: the request, and so any secret, is not stored)."""
        try:
            self._store.set(key, completion.model_copy(update={"cached": False}).model_dump_json())
        except Exception as exc:  # e.g. a full disk: the run goes on uncached
            logger.warning("model cache %s: cannot store a reply (%s)", self.directory, exc)

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> ModelCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_CACHES: dict[tuple[int, Path], ModelCache] = {}
_CACHES_LOCK = threading.Lock()


def _open_cache(cache: ModelCache | str | Path | Literal[False] | None) -> ModelCache | None:
    """The cache a call uses; a folder opens once per process (sqlite handles do not fork)."""
    if cache is False:
        return None
    if isinstance(cache, ModelCache):
        return cache
    directory = cache_dir() if cache is None else Path(cache)
    if directory is None:
        return None
    slot = (os.getpid(), directory.expanduser().resolve())
    with _CACHES_LOCK:
        if slot not in _CACHES:
            _CACHES[slot] = ModelCache(slot[1])
        return _CACHES[slot]


# -------------------------------------------------------------------------------------- costs


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


def register_model(name: str, *, input_cost_per_token: float, output_cost_per_token: float) -> None:
    """Price a model litellm does not know (fine-tuned, local, a registered provider) per token.

    Cached prompt tokens are priced as input: no provider discount is assumed.
    """
    if min(input_cost_per_token, output_cost_per_token) < 0:
        raise ValueError(f"{name}: token prices must be >= 0")
    entry: dict[str, Any] = {
        "input_cost_per_token": input_cost_per_token,
        "output_cost_per_token": output_cost_per_token,
        "cache_read_input_token_cost": input_cost_per_token,
        "cache_creation_input_token_cost": input_cost_per_token,
        "mode": "chat",
    }
    if "/" in name:
        entry["litellm_provider"] = name.split("/", 1)[0]
    _litellm().register_model({name: entry})


# --------------------------------------------------------------------------------------- sync


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
            try:
                reply = handler(_request(model, messages, kwargs))
                if inspect.isawaitable(reply):
                    reply = run_sync(_awaited(reply))
                return _model_response(model, reply)
            except Exception as exc:
                _mark_handler_error(exc)
                raise

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            try:
                reply = handler(_request(model, messages, kwargs))
                if inspect.isawaitable(reply):
                    reply = await reply
                return _model_response(model, reply)
            except Exception as exc:
                _mark_handler_error(exc)
                raise

    return _Handler()


def _mark_handler_error(exc: Exception) -> None:
    """Tag a handler's own error (a bug, not a flaky network) so it is not retried.

    litellm's error types pass through untagged: a handler raises them to simulate an outage.
    """
    if not isinstance(exc, tuple(_litellm().LITELLM_EXCEPTION_TYPES)):
        setattr(exc, _FROM_HANDLER, True)


async def _awaited(value: Awaitable[_T]) -> _T:
    return await value


def _request(model: str, messages: list, kwargs: dict[str, Any]) -> ProviderRequest:
    params = dict(kwargs.get("optional_params") or {})
    params.pop("max_retries", None)  # litellm's transport setting, not the model's business
    tools = params.pop("tools", None) or []
    metadata = (kwargs.get("litellm_params") or {}).get("metadata")
    if metadata:  # litellm keeps it out of optional_params; probes read task and trial from it
        params["metadata"] = dict(metadata)
    return ProviderRequest(
        model=model, messages=[_to_message(m) for m in messages], tools=tools, params=params
    )


def _model_response(model: str, reply: Message | str | Completion) -> Any:
    tokens = (0, 0)
    if isinstance(reply, Completion):
        tokens, reply = (reply.prompt_tokens, reply.completion_tokens), reply.message
    if isinstance(reply, str):
        reply = Message(role="assistant", content=reply)
    if not isinstance(reply, Message):
        raise TypeError(
            f"a provider handler returns a Message, a str or a Completion, not {type(reply)}"
        )
    reply = reply.model_copy(update={"role": "assistant"})
    message = to_openai_messages([reply], keep_raw=True)[0]
    finish_reason = "tool_calls" if reply.tool_calls else "stop"
    return _litellm().ModelResponse(
        model=model,
        choices=[{"index": 0, "message": message, "finish_reason": finish_reason}],
        usage={
            "prompt_tokens": tokens[0],
            "completion_tokens": tokens[1],
            "total_tokens": sum(tokens),
        },
    )
