"""Offline models as litellm custom providers: `model="<name>/..."` routes to a Python handler.

A plain callable `(ProviderRequest) -> Message | str` (sync or async) becomes a litellm custom
provider, so the whole stack runs without network or keys. A handler that returns a `Completion`
reports token usage, priced once `register_model` names a price. What a handler raises is marked
as its own (a bug, not a flaky network) so it is not retried, except litellm's own error types,
raised on purpose to simulate an outage.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from t2t.core.schema import Message
from t2t.llm.aio import run_sync
from t2t.llm.backend import load_litellm
from t2t.llm.completion import Completion
from t2t.llm.messages import from_openai_message, to_openai_messages

__all__ = [
    "ProviderHandler",
    "ProviderRequest",
    "handler_error",
    "is_in_process",
    "mark_handler_error",
    "register_model",
    "register_provider",
    "unregister_provider",
]

_T = TypeVar("_T")
_FROM_HANDLER = "_t2t_from_handler"  # marks an exception an offline handler raised itself


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
    load_litellm().register_model({name: entry})


def register_provider(name: str, handler: Any) -> None:
    """Route `model="<name>/..."` to an offline handler; a second call replaces the first.

    Args:
        name: The provider prefix.
        handler: A `ProviderHandler` callable, or a litellm `CustomLLM` instance used as is.
    """
    if not name or "/" in name:
        raise ValueError(f"a provider name is a non-empty prefix without '/', not {name!r}")
    litellm = load_litellm()
    custom = handler if isinstance(handler, litellm.CustomLLM) else _custom_llm(handler)
    unregister_provider(name)
    litellm.custom_provider_map.append({"provider": name, "custom_handler": custom})


def unregister_provider(name: str) -> None:
    """Forget a provider registered with `register_provider` (no-op if unknown)."""
    litellm = load_litellm()
    litellm.custom_provider_map[:] = [
        item for item in litellm.custom_provider_map if item["provider"] != name
    ]


def is_in_process(model: str) -> bool:
    """Whether `model` is served by a handler registered in this process (no network)."""
    litellm = load_litellm()
    return model.split("/", 1)[0] in {item["provider"] for item in litellm.custom_provider_map}


def _custom_llm(handler: ProviderHandler) -> Any:
    """Wrap a t2t handler as a litellm `CustomLLM` (the class exists only once litellm loads)."""
    litellm = load_litellm()

    class _Handler(litellm.CustomLLM):  # type: ignore[misc,name-defined]  # litellm is untyped
        def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
            try:
                reply = handler(_request(model, messages, kwargs))
                if inspect.isawaitable(reply):
                    reply = run_sync(_awaited(reply))
                return _model_response(model, reply)
            except Exception as exc:
                mark_handler_error(exc)
                raise

        async def acompletion(
            self, model: str, messages: list[Any], *args: Any, **kwargs: Any
        ) -> Any:
            try:
                reply = handler(_request(model, messages, kwargs))
                if inspect.isawaitable(reply):
                    reply = await reply
                return _model_response(model, reply)
            except Exception as exc:
                mark_handler_error(exc)
                raise

    return _Handler()


def mark_handler_error(exc: Exception) -> None:
    """Tag a handler's own error (a bug, not a flaky network) so it is not retried.

    litellm's error types pass through untagged: a handler raises them to simulate an outage.
    """
    if not isinstance(exc, tuple(load_litellm().LITELLM_EXCEPTION_TYPES)):
        setattr(exc, _FROM_HANDLER, True)


async def _awaited(value: Awaitable[_T]) -> _T:
    return await value


def _request(model: str, messages: list[Any], kwargs: dict[str, Any]) -> ProviderRequest:
    params = dict(kwargs.get("optional_params") or {})
    params.pop("max_retries", None)  # litellm's transport setting, not the model's business
    tools = params.pop("tools", None) or []
    metadata = (kwargs.get("litellm_params") or {}).get("metadata")
    if metadata:  # litellm keeps it out of optional_params; probes read task and trial from it
        params["metadata"] = dict(metadata)
    return ProviderRequest(
        model=model, messages=[from_openai_message(m) for m in messages], tools=tools, params=params
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
    return load_litellm().ModelResponse(
        model=model,
        choices=[{"index": 0, "message": message, "finish_reason": finish_reason}],
        usage={
            "prompt_tokens": tokens[0],
            "completion_tokens": tokens[1],
            "total_tokens": sum(tokens),
        },
    )


def handler_error(exc: BaseException | None) -> BaseException | None:
    """The error an offline handler raised itself, if it caused this one."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if getattr(exc, _FROM_HANDLER, False):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
