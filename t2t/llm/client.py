"""The one call to language models: `complete` (and `complete_sync`), cached and retried.

Everything above this layer speaks `core.schema.Message`; `t2t.llm.messages` turns it into
litellm's OpenAI shape and back. Tool calls are read from `message.tool_calls` (never from
`finish_reason`, which providers fill inconsistently).

Transient failures (rate limits, timeouts, lost connections, 5xx) are retried with jittered
exponential backoff; anything else, and anything an offline handler raises (except litellm's own
error types, raised on purpose to simulate them), fails at once. After the last try every failure
is a `ModelCallError`, secrets redacted. A `ModelCache` (or `T2T_CACHE_DIR`) keeps replies on
disk by request hash plus trial index, so trials differ but a re-run asks no model.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from t2t.core.errors import ModelCallError
from t2t.core.schema import Message
from t2t.core.settings import DEFAULT_MAX_RETRIES, model_timeout_s
from t2t.core.settings import retry_wait_s as _default_retry_wait_s
from t2t.llm.aio import dispatch_on_loop, run_sync
from t2t.llm.backend import load_litellm
from t2t.llm.cache import ModelCache, cache_key, open_cache
from t2t.llm.completion import Completion, Usage
from t2t.llm.messages import from_openai_message, to_openai_messages
from t2t.llm.providers import handler_error, is_in_process

__all__ = ["Completion", "Usage", "complete", "complete_sync"]

logger = logging.getLogger(__name__)

_SECRET = re.compile(r"\b(sk|pk|key|gsk|xai|hf)[-_][A-Za-z0-9_\-]{8,}")


def _redact(text: str, params: dict[str, Any]) -> str:
    """Drop anything that looks like a key, and the api_key given, from a message we show."""
    secret = params.get("api_key")
    if isinstance(secret, str) and secret:
        text = text.replace(secret, "***")
    return _SECRET.sub("***", text)


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
    store = open_cache(cache)
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


async def _call_litellm(request: dict[str, Any], retries: int, wait_s: float) -> Any:
    """The litellm call, retried on transient failures; the last failure as `ModelCallError`."""
    import tenacity  # ~250 ms: only when a model is really called

    litellm = load_litellm()
    request = {**request, "max_retries": 0}  # ours are the only retries (the SDK's would multiply)
    in_process = is_in_process(request["model"])
    attempts = 0

    async def attempt() -> Any:
        nonlocal attempts
        attempts += 1
        logger.debug("model call: %s, %d messages", request["model"], len(request["messages"]))
        with dispatch_on_loop(in_process):  # no thread hop for a handler in this process
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
        error = _model_call_error(request, handler_error(exc) or exc, attempts)
        error.handler_error = handler_error(exc)  # an offline handler's own bug, to re-raise
        raise error from exc


def _model_call_error(request: dict[str, Any], exc: BaseException, attempts: int) -> ModelCallError:
    """One redacted line naming the model and the failure."""
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    message = _redact(f"{request['model']}: {type(exc).__name__}: {exc}", request)
    return ModelCallError((message.splitlines()[0] if message else "model call failed") + tries)


def _is_transient(exc: BaseException) -> bool:
    """Worth another try: rate limits, timeouts, lost connections, 5xx; never 4xx or a bug."""
    if handler_error(exc) is not None:
        return False  # litellm wraps a handler's own error as APIConnectionError
    litellm = load_litellm()
    if isinstance(exc, tuple(getattr(litellm, name) for name in _TRANSIENT)):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and status >= 500  # e.g. a bare litellm.APIError


def _log_retry(request: dict[str, Any], state: Any) -> None:
    exc = state.outcome.exception() if state.outcome else None
    sleep_s = state.next_action.sleep if state.next_action else 0.0
    text = _redact(f"{type(exc).__name__}: {exc}", request).splitlines()[0]
    logger.warning(
        "%s: %s; retry %d in %.1f s", request["model"], text, state.attempt_number, sleep_s
    )


# -------------------------------------------------------------------------------------- costs


def _to_completion(model: str, response: Any) -> Completion:
    try:
        choice = response.choices[0]
    except (AttributeError, IndexError, TypeError):
        raise ModelCallError(f"{model}: the reply has no choices") from None
    message = from_openai_message(choice.message).model_copy(update={"role": "assistant"})
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
        return float(load_litellm().completion_cost(completion_response=response) or 0.0)
    except Exception:  # unknown model or provider: litellm raises rather than returning None
        return 0.0
