"""What an explorer has learned from tool results: every scalar value, named the way arguments are.

Tool outputs are JSON trees. Each scalar becomes a `Fact` carrying the names an argument could
ask for it by (`order_id`, the key of a `payment_methods` entry as `payment_method_id`, the items
of a `reservations` list as `reservation_id`) and the record it sits in, so values can be
described to a user ("Cookware Set, color silver") and linked to each other (an item and the
product details read for its `product_id`). Nothing here knows a domain.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fact", "FactBook", "arg_matches", "describe_record", "parse_output", "singular"]

_SCALARS = (str, int, float)
_PREFIXES = ("new_", "old_", "from_", "to_", "source_", "target_")
_ID_IN_NAME = re.compile(r"([a-z]+_id)")


@functools.cache
def singular(name: str) -> str:
    """`orders` → `order`, `payment_methods` → `payment_method` (English enough for field names)."""
    if name.endswith("ies") and len(name) > 4:
        return name[:-3] + "y"
    if name.endswith("sses"):
        return name[:-2]
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def _is_scalar(value: Any) -> bool:
    return isinstance(value, _SCALARS) and not isinstance(value, bool)


def parse_output(content: str) -> Any:
    """A tool result as JSON when it is JSON, else the text itself (a bare id, a message)."""
    text = content.strip()
    if text[:1] in "{[" or text[:1].isdigit() or text[:1] == '"':
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


@functools.cache
def arg_matches(arg: str, name: str) -> bool:
    """Whether a fact named `name` can fill argument `arg` (list arguments use their singular).

    `new_item_ids` takes `item_id`; `payment_id` takes `payment_method_id` (same stem, id suffix).
    """
    base = arg
    for prefix in _PREFIXES:
        if base.startswith(prefix) and len(base) > len(prefix) + 2:
            base = base[len(prefix) :]
            break
    if name in (base, singular(base)):
        return True
    stem = singular(base)
    return stem.endswith("_id") and name.endswith("_id") and name.startswith(stem[:-3] + "_")


@dataclass(frozen=True, slots=True)
class Fact:
    """One scalar seen in a tool result, with the names it answers to and its enclosing record."""

    value: Any
    names: frozenset[str]
    record: dict[str, Any] | None
    source: int  # index of the call whose result held it (-1: the user's own profile)
    own: bool = False  # the record's own identifier (its key in a map, its `id`, `order_id`, …)
    near: frozenset[Any] = frozenset()  # the record's scalar values: what this fact is linked to


@dataclass
class FactBook:
    """Facts from every read so far, indexed by name; the calls that produced them, by index."""

    facts: list[Fact] = field(default_factory=list)
    by_name: dict[str, list[Fact]] = field(default_factory=dict)
    source_args: dict[int, set[Any]] = field(default_factory=dict)
    lists: dict[str, list[tuple[int, list[dict[str, Any]]]]] = field(default_factory=dict)
    _seen: set[tuple[str, Any, int]] = field(default_factory=set)
    _near: dict[int, frozenset[Any]] = field(default_factory=dict)
    _matching: dict[str, tuple[int, list[Fact]]] = field(default_factory=dict)

    def add_output(self, output: Any, *, source: int, tool_name: str = "", args: Any = ()) -> None:
        """Index every scalar in `output`, produced by call `source` with argument values `args`."""
        self.source_args[source] = {a for a in args if _is_scalar(a)}
        if _is_scalar(output):
            match = _ID_IN_NAME.search(tool_name)
            names = {match.group(1)} if match else {"result"}
            self._add(output, names, None, source)
            return
        self._walk(output, None, None, None, source)

    def _add(
        self,
        value: Any,
        names: set[str],
        record: dict[str, Any] | None,
        source: int,
        own: bool = False,
    ) -> None:
        near: frozenset[Any] = frozenset()
        if record is not None:
            known = self._near.get(id(record))
            if known is None:
                known = self._near[id(record)] = frozenset(
                    v for v in record.values() if _is_scalar(v)
                )
            near = known
        fact = Fact(value, frozenset(names), record, source, own, near)
        for name in names:
            key = (name, value, source)
            if key in self._seen:
                continue
            self._seen.add(key)
            self.by_name.setdefault(name, []).append(fact)
        self.facts.append(fact)

    def _walk(
        self,
        value: Any,
        key: str | None,
        record_name: str | None,
        record: dict[str, Any] | None,
        source: int,
    ) -> None:
        if isinstance(value, dict):
            if key and value and all(isinstance(v, dict) for v in value.values()):
                one = singular(key)  # a map of records keyed by id: payment_methods, variants
                for item_key, item in value.items():
                    self._add(item_key, {one, f"{one}_id"}, item, source, True)
                    self._walk(item, one, one, item, source)
                return
            if record is None or any(k == "id" or k.endswith("_id") for k in value):
                record, record_name = value, record_name or key
            if "id" in value:
                own_key: str | None = "id"
            elif record_name:  # an `item` owns `item_id`; a `payment_history` entry owns nothing
                own_key = f"{record_name}_id"
            else:  # a top-level record: its first id (`order_id` before `user_id`)
                own_key = next((k for k in value if k.endswith("_id")), None)
            for k, v in value.items():
                if _is_scalar(v):
                    names = {k}
                    if k == "id" and record_name:
                        names.add(f"{record_name}_id")
                    self._add(v, names, record, source, record is value and k == own_key)
                else:
                    self._walk(v, k, k if isinstance(v, dict) else record_name, record, source)
        elif isinstance(value, list):
            one = singular(key) if key else "item"
            if key and value and all(isinstance(item, dict) for item in value):
                self.lists.setdefault(key, []).append((source, value))
            for item in value:
                if _is_scalar(item):
                    self._add(item, {key or one, one, f"{one}_id"}, record, source)
                elif isinstance(item, dict):
                    self._walk(item, one, one, None, source)

    def matching(self, arg: str) -> list[Fact]:
        """Facts that can fill argument `arg`, oldest first, one per (value, source)."""
        cached = self._matching.get(arg)
        if cached is not None and cached[0] == len(self.facts):
            return cached[1]
        found: list[Fact] = []
        seen: set[tuple[Any, int]] = set()
        for name, facts in self.by_name.items():
            if arg_matches(arg, name):
                for fact in facts:
                    if (fact.value, fact.source) not in seen:
                        seen.add((fact.value, fact.source))
                        found.append(fact)
        self._matching[arg] = (len(self.facts), found)
        return found

    def record_of(
        self, value: Any, arg: str = "", *, rank: Callable[[int], int | None] | None = None
    ) -> dict[str, Any] | None:
        """The record `value` identifies (else one holding it), under names `arg` takes.

        `rank(source)` orders the reads to trust (None: ignore that read); by default the latest.
        """
        best, best_rank = None, None
        for fact in self.matching(arg) if arg else self.facts:
            if fact.value != value or fact.record is None:
                continue
            when = rank(fact.source) if rank else fact.source
            if when is None:
                continue
            fact_rank = (fact.own, when, fact.source, len(fact.record))
            if best_rank is None or fact_rank > best_rank:
                best, best_rank = fact.record, fact_rank
        return best

    def values(self) -> set[Any]:
        return {fact.value for fact in self.facts}


def _has_text(record: dict[str, Any]) -> bool:
    return any(isinstance(v, str) and not k.endswith("_id") for k, v in record.items())


def describe_record(
    record: dict[str, Any] | None, *, skip: Any = None, numbers: bool = False
) -> dict[str, Any]:
    """What a person names a record by: its text fields and small option groups, no ids.

    Numbers (prices, balances) are left out unless asked for: they are what agents tell users.
    """
    if not record:
        return {}
    attributes: dict[str, Any] = {}
    for key, value in record.items():
        if key == "id" or key.endswith("_id") or value == skip:
            continue
        if isinstance(value, str) or (numbers and _is_scalar(value)):
            attributes[key] = value
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) and isinstance(v.get("name"), str) for v in value)
        ):  # an order's items by name: how people tell their orders apart
            names = sorted(v["name"] for v in value)
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            attributes[key] = ", ".join(names[:3]) + more
        elif (
            isinstance(value, dict)
            and (len(value) <= 4 or isinstance(record.get("name"), str) or not _has_text(record))
            and all(map(_is_scalar, value.values()))
        ):  # small groups, a named product's options, a variant that is only its options
            attributes.update(
                {k: v for k, v in value.items() if not k.endswith("_id") and isinstance(v, str)}
            )
    return attributes
