"""Tools and policy rules: domain functions marked `@tool` / `@rule`, and what t2t builds of them.

A tool's JSON schema and argument validator come from its signature and Google-style docstring
(the docstring faces the model); a rule says why a call is not allowed in a state, or None.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import docstring_parser
from pydantic import BaseModel, ConfigDict, Field, create_model

__all__ = ["Rule", "Tool", "ToolKind", "make_rule", "make_tool", "rule", "tool"]

ToolKind = Literal["read", "write", "generic"]


@dataclass(frozen=True)
class Tool:
    """A domain function the agent can call, with its schema and argument validator."""

    name: str
    kind: ToolKind
    func: Callable[..., Any]
    description: str
    arguments: type[BaseModel]

    @property
    def mutates(self) -> bool:
        return self.kind == "write"

    def openai_schema(self) -> dict[str, Any]:
        """The function schema in the OpenAI tools format litellm passes to every provider."""
        parameters = _without_titles(self.arguments.model_json_schema())
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": parameters,
            },
        }


def _without_titles(schema: Any) -> Any:
    """Drop pydantic's generated `title`s (noise in a prompt), keeping properties named title."""
    if isinstance(schema, list):
        return [_without_titles(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs"):
            cleaned[key] = {name: _without_titles(sub) for name, sub in value.items()}
        else:
            cleaned[key] = _without_titles(value)
    return cleaned


def tool(kind: ToolKind) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a domain function as a tool; its first parameter receives the `State`.

    The JSON schema is derived from the remaining parameters' annotations and the Google-style
    docstring, which faces the model: write it as a prompt.
    """
    if kind not in ("read", "write", "generic"):
        raise ValueError(f"tool kind must be 'read', 'write' or 'generic', not {kind!r}")

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__t2t_tool__ = kind  # type: ignore[attr-defined]
        return func

    return mark


def make_tool(func: Callable[..., Any]) -> Tool:
    """Build a `Tool` from a function marked with `@tool`."""
    doc = docstring_parser.parse(inspect.getdoc(func) or "")
    arg_docs = {p.arg_name: p.description for p in doc.params}
    params = list(inspect.signature(func, eval_str=True).parameters.values())[1:]
    fields: dict[str, Any] = {}
    for p in params:
        annotation = p.annotation if p.annotation is not inspect.Parameter.empty else Any
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (annotation, Field(default, description=arg_docs.get(p.name)))
    model = create_model(
        f"{func.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    description = "\n\n".join(
        part for part in (doc.short_description, doc.long_description) if part
    )
    marked: Any = func  # carries the kind `@tool` set
    return Tool(func.__name__, marked.__t2t_tool__, func, description, model)


@dataclass(frozen=True)
class Rule:
    """A machine-checkable policy rule: says why a call is not allowed in a state, or None."""

    name: str
    tools: frozenset[str]
    check: Callable[..., str | None]  # (state, call) -> reason | None
    description: str = ""
    # a call breaking it is a request no customer makes (an item swapped for itself, paying for
    # what is free): it is never made into an infeasible task
    degenerate: bool = False


def rule(
    *tools: str, degenerate: bool = False
) -> Callable[[Callable[..., str | None]], Callable[..., str | None]]:
    """Mark `check(state, call) -> reason | None` as a policy rule for the named tools.

    `degenerate=True`: a call breaking the rule is one no customer would ask for (an impossible
    count, a value outside the allowed set); infeasible variants are never built from it.
    """

    def mark(func: Callable[..., str | None]) -> Callable[..., str | None]:
        func.__t2t_rule__ = frozenset(tools)  # type: ignore[attr-defined]
        func.__t2t_degenerate__ = degenerate  # type: ignore[attr-defined]
        return func

    return mark


def make_rule(func: Callable[..., str | None]) -> Rule:
    doc = (inspect.getdoc(func) or "").split("\n\n")[0].strip()
    marked: Any = func  # carries the tools `@rule` named
    degenerate = bool(getattr(marked, "__t2t_degenerate__", False))
    return Rule(func.__name__, marked.__t2t_rule__, func, doc, degenerate)
