"""Plausible random tool calls for any domain, from its tool schemas and the values in its DB.

Arguments are filled by name from what the database holds (`order_id` from every `order_id` field
and the keys of records that carry one, `item_ids` from `item_id` values, …) and by JSON type
otherwise, so a good share of calls hit real records. Property tests, benchmarks and the random
probe use it to exercise a domain without knowing anything about it.
"""

from __future__ import annotations

import functools
import random
from collections import defaultdict
from typing import Any

from pydantic import BaseModel

from t2t.core.environment import Domain
from t2t.core.schema import ToolCall
from t2t.core.tools import Tool

__all__ = ["ValuePool", "arguments_schema", "random_call", "resolve_schema"]

_WORDS = ("yes", "no", "test", "blue", "large", "refund", "no longer needed", "ordered by mistake")


class ValuePool:
    """Scalar values of a DB grouped by the field name they appear under (capped per name)."""

    def __init__(self, db: dict[str, Any], *, per_name: int = 64, seed: int = 0) -> None:
        found: dict[str, list[Any]] = defaultdict(list)
        seen: dict[str, set[Any]] = defaultdict(set)

        def add(name: str, value: Any) -> None:
            if value not in seen[name]:
                seen[name].add(value)
                found[name].append(value)

        def walk(name: str, value: Any) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    walk(key, item)
            elif isinstance(value, list):
                for item in value:
                    walk(name.removesuffix("s"), item)
            elif isinstance(value, str | int | float) and not isinstance(value, bool):
                add(name, value)

        for table, records in db.items():
            id_name = f"{table.removesuffix('s')}_id"  # orders → order_id, …
            for key, record in records.items():
                add(id_name, key)
                walk(table, record)
        rng = random.Random(seed)
        self.values = {n: rng.sample(v, min(len(v), per_name)) for n, v in sorted(found.items())}
        self._strings = sorted({v for vs in self.values.values() for v in vs if isinstance(v, str)})

    def pick(self, name: str, schema: dict[str, Any], rng: random.Random) -> Any:
        """A value for argument `name` of JSON `schema`: from the DB when the name matches."""
        kind = schema.get("type")
        if "enum" in schema:
            return rng.choice(schema["enum"])
        if kind == "array":
            items = schema.get("items", {})
            return [self.pick(name.removesuffix("s"), items, rng) for _ in range(rng.randint(1, 2))]
        if kind == "object":
            props = schema.get("properties", {})
            return {key: self.pick(key, sub, rng) for key, sub in props.items()}
        known = self.values.get(name) or self.values.get(name.removesuffix("_id"))
        if known and rng.random() < 0.9:
            value = rng.choice(known)
            if kind == "string" and not isinstance(value, str):
                value = str(value)
            if kind in ("integer", "number") and isinstance(value, str):
                value = rng.randint(0, 100)
            return value
        if kind == "integer":
            return rng.randint(0, 100)
        if kind == "number":
            return round(rng.uniform(0, 500), 2)
        if kind == "boolean":
            return rng.random() < 0.5
        return rng.choice(self._strings or _WORDS) if rng.random() < 0.7 else rng.choice(_WORDS)


@functools.cache
def arguments_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A tool's arguments as JSON schema, built once per tool (pydantic rebuilds it every call).

    Shared: callers read it and never change it.
    """
    return model.model_json_schema()


def resolve_schema(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline `$ref`s and collapse `anyOf` (optional fields) so `pick` sees plain types."""
    if "$ref" in schema:
        return resolve_schema(defs[schema["$ref"].split("/")[-1]], defs)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return resolve_schema(options[0], defs) if options else {}
    resolved = dict(schema)
    if "items" in resolved:
        resolved["items"] = resolve_schema(resolved["items"], defs)
    if "properties" in resolved:
        resolved["properties"] = {
            k: resolve_schema(v, defs) for k, v in resolved["properties"].items()
        }
    return resolved


def random_call(
    domain: Domain, pool: ValuePool, rng: random.Random, *, tool: Tool | None = None
) -> ToolCall:
    """A random call of `tool` (or of a random tool) with arguments drawn from `pool`."""
    tool = tool or rng.choice(list(domain.tools.values()))
    parameters = arguments_schema(tool.arguments)
    defs = parameters.get("$defs", {})
    arguments = {
        name: pool.pick(name, resolve_schema(schema, defs), rng)
        for name, schema in parameters.get("properties", {}).items()
    }
    return ToolCall(name=tool.name, arguments=arguments)
