"""Messages between t2t and the models: t2t `Message` ↔ the OpenAI chat shape ↔ HF chat templates.

Tool-call arguments that are not a JSON object are kept, undecoded, under `RAW_ARGUMENTS_KEY` so
the caller can tell the model its call was malformed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from t2t.core.schema import Message, ToolCall

__all__ = [
    "RAW_ARGUMENTS_KEY",
    "from_openai_message",
    "hf_messages",
    "raw_arguments",
    "to_openai_messages",
]

RAW_ARGUMENTS_KEY = "__raw__"
"""Key under which tool-call arguments that are not a JSON object are kept as received."""


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
        raw: str = call.arguments[RAW_ARGUMENTS_KEY]
        return raw
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


def from_openai_message(raw: Any) -> Message:
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


def hf_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-shaped messages as HF chat templates take them (changed in place and returned).

    Arguments become objects instead of JSON strings, and tool messages are named after their call.
    """
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
            names[call["id"]] = call["function"]["name"]
        if message["role"] == "tool" and message.get("tool_call_id") in names:
            message["name"] = names[message["tool_call_id"]]
    return messages
