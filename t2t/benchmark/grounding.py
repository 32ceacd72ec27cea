"""Grounding: every value an agent passes to a tool must come from the conversation or the schema.

An agent that calls `find_user_id_by_name_zip` with a name and zip the user never said knows more
than it was told; its success is not evidence that it can do the job. A value is grounded when it
appeared earlier in a user message or a tool result (compared with `t2t.intents.text.mentions`:
case-insensitive, numbers as numbers, "1,234.50" = 1234.5; an ISO date also as "May 3" or "3rd of
May"), or when the tool's JSON schema allows it outright (an `enum` of the argument, or a boolean).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from t2t.core.environment import Domain
from t2t.core.schema import Episode, Message, ToolCall
from t2t.core.tools import Tool
from t2t.intents.text import mentions, normalize_text

__all__ = [
    "UngroundedValue",
    "heard_text",
    "is_grounded",
    "ungrounded_arguments",
    "ungrounded_values",
]


class UngroundedValue(BaseModel):
    """An argument value of an agent's tool call that nothing before the call gave it."""

    call_index: int  # position among the agent's tool calls
    tool: str
    path: str  # "new_item_ids[0]", "passengers[1].first_name"
    value: Any


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Strings, numbers and booleans inside lists and dicts, with their argument path."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _leaves(inner, f"{path}[{index}]")
    elif value is not None:
        yield path, value


def _enums(schema: Any) -> Iterator[Any]:
    """Every `enum` value anywhere inside a JSON schema (items, anyOf, nested properties)."""
    if isinstance(schema, dict):
        for key, inner in schema.items():
            if key == "enum" and isinstance(inner, list):
                yield from inner
            else:
                yield from _enums(inner)
    elif isinstance(schema, list):
        for inner in schema:
            yield from _enums(inner)


def _allowed(domain: Domain, tool: str) -> dict[str, frozenset[str]]:
    """Per top-level argument, the enum values its schema allows (as text, lower case)."""
    found = domain.tools.get(tool)
    return {} if found is None else _enum_values(found)


@functools.lru_cache(maxsize=1024)
def _enum_values(tool: Tool) -> dict[str, frozenset[str]]:
    """Building a schema costs a millisecond: once per tool, not once per call checked."""
    properties = tool.openai_schema()["function"].get("parameters", {}).get("properties", {})
    return {
        name: frozenset(str(v).lower() for v in _enums(schema))
        for name, schema in properties.items()
    }


def heard_text(messages: list[Message]) -> str:
    """What the user said and the tools showed in `messages`: the text that grounds a value."""
    return "\n".join(m.content for m in messages if m.role in ("user", "tool") and m.content)


def ungrounded_arguments(
    call: ToolCall,
    heard: str,
    domain: Domain,
    *,
    normalized: bool = False,
) -> list[tuple[str, Any]]:
    """(path, value) of each argument value of `call` that `heard` does not mention and the
    tool's schema does not allow outright (`normalized`: `heard` went through `normalize_text`).
    """
    heard = heard if normalized else normalize_text(heard)
    allowed = _allowed(domain, call.name)
    missing = []
    for path, value in _leaves(call.arguments, ""):
        top = path.split(".")[0].split("[")[0]
        if isinstance(value, bool) or str(value).lower() in allowed.get(top, frozenset()):
            continue
        if str(value).strip() and not mentions(heard, value, normalized=True):
            missing.append((path, value))
    return missing


def ungrounded_values(messages: list[Message], domain: Domain) -> list[UngroundedValue]:
    """The argument values of the agent's tool calls that were neither said nor schema-allowed.

    Only user messages and tool results ground a value; the agent's own words and the system
    prompt (the policy) do not.
    """
    heard: list[str] = []
    missing: list[UngroundedValue] = []
    index = 0
    for message in messages:
        if message.role in ("user", "tool") and message.content:
            heard.append(normalize_text(message.content))
            continue
        if message.role != "assistant" or not message.tool_calls:
            continue
        text = "\n".join(heard)
        for call in message.tool_calls or []:
            found = ungrounded_arguments(call, text, domain, normalized=True)
            for path, value in found:
                missing.append(
                    UngroundedValue(call_index=index, tool=call.name, path=path, value=value)
                )
            index += 1
    return missing


def is_grounded(messages: list[Message], domain: Domain) -> bool:
    """Every argument value of every agent tool call was grounded."""
    return not ungrounded_values(messages, domain)


def episode_grounded(episode: Episode, domain: Domain | None = None) -> bool | None:
    """Whether the episode's calls were grounded: the scorer's verdict (`grounded` in the reward
    details) or, for episodes scored before it recorded one, checked again on `domain`; `None`
    when neither is at hand.
    """
    recorded = episode.reward.details.get("grounded") if episode.reward else None
    if isinstance(recorded, bool):
        return recorded
    return None if domain is None else is_grounded(episode.messages, domain)
