"""Whether a request is sound: one a customer would make, about their own records.

An infeasible request must be refused for a reason the agent has to find, not because it makes no
sense: `degenerate_reason` says why a call is one no customer makes (an item exchanged for itself,
a transfer onto the same account, a value outside the allowed set, an impossible count, an item
that is not in the order, a rule the domain marks degenerate, a call that changes nothing).
`foreign_reason` applies the written rule no tool enforces, that one conversation serves one
customer (`own_records`), and `refusal_source` tells a request only the policy forbids from one
the tool refuses as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from t2t.core.environment import Domain, Environment, State
from t2t.core.errors import DomainError
from t2t.core.schema import ToolCall
from t2t.explore.facts import singular
from t2t.explore.graph import user_table_of

__all__ = [
    "OWN_RECORDS",
    "RefusalSource",
    "broken_rules",
    "contains_value",
    "degenerate_reason",
    "foreign_reason",
    "hidden_keys",
    "likeness",
    "owner_of",
    "own_records_rule",
    "refusal_source",
    "self_move",
    "stated_facts",
    "table_of",
    "user_key",
]

OWN_RECORDS = "own_records"
"""The written rule no tool enforces: one conversation serves one customer, so nobody else's
records are acted on. A domain opts in by naming it in its policy (`own_records`)."""

RefusalSource = Literal["policy", "tool"]


def _only_policy_forbids(before: Environment, call: ToolCall) -> bool:
    """The tool would carry the call out and change something: only the policy stands in the way."""
    after = before.fork()
    return after.run(call).ok and after.state_hash() != before.state_hash()


def refusal_source(env: Environment, call: ToolCall) -> RefusalSource:
    """Who refuses `call` in `env`: only the policy ("policy": the tool would carry it out) or
    the tool as well ("tool").
    """
    return "policy" if _only_policy_forbids(env, call) else "tool"


def broken_rules(env: Environment, call: ToolCall, user_id: Any) -> list[tuple[str, str]]:
    """The domain's rules `call` breaks, plus `own_records` when it names another customer's
    record and the domain's policy has that rule.
    """
    broken = env.check_rules(call)
    if own_records_rule(env.domain):
        foreign = foreign_reason(env, call, user_id)
        if foreign is not None:
            broken.append((OWN_RECORDS, foreign))
    return broken


# ------------------------------------------------------------------ another customer's records


def own_records_rule(domain: Domain) -> bool:
    """The domain's written policy names the one-customer rule (`own_records`)."""
    return f"`{OWN_RECORDS}`" in domain.policy


def user_key(env: Environment) -> str | None:
    """The field naming a record's user: `user_id` for `users`, `customer_id` for `customers`."""
    try:
        table = user_table_of(env)
    except DomainError:  # no users' table: no record is anyone else's
        return None
    return f"{singular(table)}_id"


def table_of(state: State, value: Any) -> str | None:
    """The table whose records are keyed by `value` (an order id names an order)."""
    if not isinstance(value, str):
        return None
    return next((table for table in state.tables() if value in state[table]), None)


def owner_of(state: State, record: Any, key: str) -> Any:
    """The user a record belongs to: its own user id field, else that of a record it names."""
    if not isinstance(record, dict):
        return None
    if key in record:
        return record[key]
    for field, value in record.items():
        if field.endswith("_id") and isinstance(value, str):
            table = table_of(state, value)
            linked = state[table][value] if table else None
            if isinstance(linked, dict) and key in linked:
                return linked[key]
    return None


def foreign_reason(env: Environment, call: ToolCall, user_id: Any) -> str | None:
    """Why `call` acts on another customer's record (one its id arguments name), or None."""
    key = user_key(env)
    if key is None or user_id is None:
        return None
    state = env.state
    for arg, value in call.arguments.items():
        if arg == key or not arg.endswith("_id"):
            continue
        table = table_of(state, value)
        if table is None:
            continue
        owner = owner_of(state, state[table][value], key)
        if owner is not None and owner != user_id:
            noun = singular(table).replace("_", " ")
            return f"{noun} {value} is not on your account, and I can act only on yours"
    if call.arguments.get(key) not in (None, user_id):
        return f"account {call.arguments[key]} is not yours, and I can act only on yours"
    return None


def likeness(record: Any, other: Any) -> int:
    """How many short text fields (a status, a kind) two records share."""
    if not isinstance(record, dict) or not isinstance(other, dict):
        return 0
    return sum(
        1
        for k, v in record.items()
        if isinstance(v, str) and len(v) <= 30 and not k.endswith("_id") and other.get(k) == v
    )


# ------------------------------------------------------------------ degenerate requests

_QUOTED = re.compile(r"'([^']{2,40})'")


def degenerate_reason(env: Environment, call: ToolCall) -> str | None:
    """Why `call` is a request no customer would make, or None: it moves a value onto itself
    (an item exchanged for itself, a transfer to the same account), holds a value outside the
    argument's allowed set or an impossible count, names items not in the named record, breaks
    a rule the domain marks degenerate, or would change nothing at all.
    """
    arguments = call.arguments
    if self_move(arguments):
        return "it moves a value onto itself"
    spec = env.domain.tools.get(call.name)
    if spec is not None:
        outside = _outside_allowed(spec.arguments.model_json_schema(), arguments)
        if outside:
            return outside
    counts = _impossible_count(arguments)
    if counts:
        return counts
    missing = _not_in_record(env.state, arguments)
    if missing:
        return missing
    degenerate = {r.name for r in env.domain.rules if r.degenerate}
    for rule, reason in env.check_rules(call):
        if rule in degenerate:
            return f"{rule}: {reason}"
    after = env.fork()
    if after.run(call).ok and after.state_hash() == env.state_hash():
        return "it would change nothing"
    return None


def _outside_allowed(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """A string argument whose schema lists (enum) or quotes (its description names two or
    more values) the allowed values, holding another value.
    """
    for arg, sub in schema.get("properties", {}).items():
        value = arguments.get(arg)
        if not isinstance(value, str):
            continue
        allowed = sub.get("enum") or _QUOTED.findall(sub.get("description") or "")
        if len(allowed) >= 2 and "such as" not in (sub.get("description") or ""):
            if value not in allowed:
                return f"{arg} {value!r} is not one of {allowed}"
    return None


def _impossible_count(arguments: dict[str, Any]) -> str | None:
    """A negative count, or a part (`nonfree_bags`) above its `total_…` count."""
    for arg, value in arguments.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if value < 0 and arg.startswith(("total_", "nonfree_", "num_", "number_")):
            return f"{arg} is negative"
        stem = arg.split("_", 1)[-1]
        total = arguments.get(f"total_{stem}")
        if not arg.startswith("total_") and isinstance(total, int | float) and value > total:
            return f"{arg} {value} is more than total_{stem} {total}"
    return None


def contains_value(value: Any, wanted: Any) -> bool:
    """`wanted` is `value` or one of the values nested in its dicts and lists."""
    if value == wanted:
        return True
    if isinstance(value, dict):
        return any(contains_value(v, wanted) for v in value.values())
    if isinstance(value, list):
        return any(contains_value(v, wanted) for v in value)
    return False


def _not_in_record(state: State, arguments: dict[str, Any]) -> str | None:
    """Items of a list argument (not a choice of new ones) absent from the record the call names."""
    record = None
    for arg, value in arguments.items():
        table = table_of(state, value) if arg.endswith("_id") else None
        if table is not None:
            record = state[table][value]
            break
    if record is None:
        return None
    for arg, value in arguments.items():
        if (
            arg.startswith(("new_", "to_"))
            or not arg.endswith("_ids")
            or not isinstance(value, list)
        ):
            continue
        for item in value:
            if isinstance(item, str) and not contains_value(record, item):
                return f"{arg} names {item}, which is not in the record"
    return None


def hidden_keys(env: Environment, call: ToolCall, rule: str) -> list[str]:
    """The attributes the refusal rests on: the plain values (no ids) the broken rule reads from
    the records, e.g. an order's `status`; for `own_records`, the record's user field.
    """
    if rule == OWN_RECORDS:
        key = user_key(env)
        return [key] if key else []
    check = next((r.check for r in env.domain.rules if r.name == rule), None)
    if check is None:
        return []
    read: set[str] = set()
    try:
        check(_Traced(env.state, read), call)
    except Exception:  # noqa: BLE001 - a rule that needs real records: nothing is recorded
        return []
    return sorted(k for k in read if not k.endswith(_ID_SUFFIXES) and k != "id")


_ID_SUFFIXES = ("_id", "_ids", "_number")


def stated_facts(env: Environment, call: ToolCall, hidden: list[str], text: str) -> list[str]:
    """The `hidden` attributes of the records `call` names whose values `text` states ("status:
    delivered", or "delivered" outside a tool's name): the facts the agent should find itself.
    """
    said = text.lower()
    for name in env.domain.tools:  # "cancel pending order" names the tool, not the status
        said = said.replace(name.replace("_", " "), " ").replace(name, " ")
    state, stated = env.state, set()
    for arg, value in call.arguments.items():
        table = table_of(state, value) if arg.endswith("_id") else None
        record = state[table][value] if table else None
        if not isinstance(record, dict):
            continue
        for key in hidden:
            shown = record.get(key)
            if shown is None or isinstance(shown, dict | list):
                continue
            words = str(shown).lower()
            pair = f"{key.replace('_', ' ')}: {words}"
            alone = len(words) >= 4 and re.search(rf"\b{re.escape(words)}\b", said)
            if pair in said or alone:
                stated.add(key)
    return sorted(stated)


class _Traced(Mapping[str, Any]):
    """A read-only view of a state, a table or a record that notes which plain fields are read."""

    def __init__(self, data: Any, read: set[str]) -> None:
        self._data, self._read = data, read

    def __getitem__(self, key: str) -> Any:
        return self._wrap(key, self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def tables(self) -> list[str]:
        return list(self._data.tables())

    def _wrap(self, key: str, value: Any) -> Any:
        if isinstance(value, Mapping):
            return _Traced(value, self._read)
        if isinstance(value, list):
            return [_Traced(v, self._read) if isinstance(v, Mapping) else v for v in value]
        self._read.add(key)
        return value


# Argument pairs that move or exchange a value: equal values mean the call moves it onto itself.
_PAIRS = (("", "new_"), ("old_", "new_"), ("from_", "to_"), ("source_", "destination_"))


def self_move(arguments: dict[str, Any]) -> bool:
    """Two paired arguments (item_ids/new_item_ids, from_x/to_x, …) carry the same value."""
    for key, value in arguments.items():
        for first, second in _PAIRS:
            if key.startswith(first) and value not in (None, "", []):
                other = second + key[len(first) :]
                if other != key and arguments.get(other) == value:
                    return True
    return False
