"""The tool dependency graph of a domain, derived from its schemas and its DB, not declared.

Which table holds the users, which read tools identify a user from what they know (an email, a
name and zip, their id), and which names each read tool's output produces (so `get_order_details`
feeds `item_ids`, `get_product_details` feeds `new_item_ids`). Learned once per (domain, DB) by
calling the read tools from a few users' own records, deterministically.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from t2t.core.environment import Environment
from t2t.core.errors import DomainError
from t2t.core.schema import ToolCall
from t2t.core.tools import Tool
from t2t.explore.facts import FactBook, arg_matches, parse_output, singular
from t2t.explore.values import arguments_schema, resolve_schema

__all__ = ["USER_TABLES", "ToolGraph", "build_tool_graph", "user_record", "user_table_of"]

# Tables that hold the people who call; a domain can name its own with USER_TABLE in tools.py.
USER_TABLES = ("users", "customers", "clients", "members", "patients", "subscribers", "guests")


@dataclass
class ToolGraph:
    """What exploration needs to know about a domain's tools, learned from its schemas and DB."""

    user_table: str
    user_keys: list[str]
    identity_tools: list[str]
    read_tools: list[str]
    write_tools: list[str]
    required: dict[str, list[str]]
    produces: dict[str, set[str]] = field(default_factory=dict)
    donors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def user_key(self) -> str:
        """The argument naming a user: `user_id` for `users`, `customer_id` for `customers`."""
        return f"{singular(self.user_table)}_id"

    def feeds(self, tool: str, arg: str) -> bool:
        """Whether read `tool`'s output has facts that can fill argument `arg`."""
        return any(arg_matches(arg, name) for name in self.produces.get(tool, ()))

    def edges(self) -> list[tuple[str, str, str]]:
        """(read tool, tool, argument) for every output → argument link: the graph to draw."""
        return [
            (read, target, arg)
            for read in self.read_tools
            for target, args in self.required.items()
            for arg in args
            if target != read and self.feeds(read, arg)
        ]


def _required_args(tool: Tool) -> list[str]:
    return list(arguments_schema(tool.arguments).get("required", []))


def _identity_args(env: Environment, graph_reads: list[Tool], table: str, key: str) -> list[str]:
    """Read tools that find user `key` from fields of their own record (email, name + zip, id)."""
    book = FactBook()
    book.add_output(user_record(env, table, key), source=-1)
    found = []
    own_id = f"{singular(table)}_id"
    for read in graph_reads:
        args = _required_args(read)
        if not args or any(a.endswith("_id") and a != own_id for a in args):
            continue
        values = {}
        for arg in args:
            facts = [f for f in book.matching(arg) if isinstance(f.value, str)]
            if not facts:
                break
            values[arg] = facts[0].value
        else:
            result = env.run(ToolCall(name=read.name, arguments=values))
            if result.ok and key in result.content:
                found.append(read.name)
    return found


def user_record(env: Environment, table: str, key: str) -> dict[str, Any]:
    """A user's record as they know it, with its own id even when the record does not store it."""
    return {f"{singular(table)}_id": key, **env.state[table][key]}


def user_table_of(env: Environment, module_hint: str | None = None) -> str:
    """The table holding the users: `USER_TABLE` of the domain, else the first known name.

    Raises:
        DomainError: neither names a table of the DB.
    """
    tables = env.state.tables()
    module_hint = module_hint or env.domain.user_table
    if module_hint:
        if module_hint not in tables:
            raise DomainError(f"USER_TABLE {module_hint!r} is not a table of the DB ({tables})")
        return module_hint
    for name in USER_TABLES:
        if name in tables and len(env.state[name]):
            return name
    raise DomainError(
        f"cannot tell which table holds the users among {sorted(tables)}; "
        "set USER_TABLE = '<table>' in the domain's tools.py"
    )


def build_tool_graph(
    env: Environment, *, user_table: str | None = None, probes: int = 4, seed: int = 0
) -> ToolGraph:
    """Learn the graph by walking reads breadth-first from `probes` users' own records."""
    domain = env.domain
    reads = [t for t in domain.tools.values() if t.kind == "read"]
    writes = [t.name for t in domain.tools.values() if t.kind == "write"]
    if not writes:
        raise DomainError(f"domain {domain.name} has no write tools: nothing to explore")
    table = user_table_of(env, user_table)
    keys = sorted(env.state[table])
    rng = random.Random(seed)
    sample = rng.sample(keys, min(probes, len(keys)))
    identity: list[str] = []
    for key in sample:
        for name in _identity_args(env, reads, table, key):
            if name not in identity:
                identity.append(name)
    if not identity:
        raise DomainError(
            f"no read tool of {domain.name} finds a user of table {table!r} from fields of "
            "their own record (e.g. get_user_details(user_id) or find_user_id_by_email(email))"
        )
    graph = ToolGraph(
        user_table=table,
        user_keys=keys,
        identity_tools=identity,
        read_tools=[t.name for t in reads],
        write_tools=writes,
        required={name: _required_args(t) for name, t in domain.tools.items()},
        produces={t.name: set() for t in reads},
    )
    for key in sample:
        _probe_reads(env, graph, reads, table, key, rng)
    for name in writes:
        group = [a for a in graph.required[name] if _is_free_text(domain.tools[name], a)]
        if len(group) >= 2:
            graph.donors[name] = _donors(env, group)
    return graph


def _is_free_text(tool: Tool, arg: str) -> bool:
    """A plain string argument that names no record (an address line, a reason)."""
    schema = arguments_schema(tool.arguments)
    sub = resolve_schema(schema["properties"][arg], schema.get("$defs", {}))
    return sub.get("type") == "string" and "enum" not in sub and not arg.endswith("_id")


def _donors(env: Environment, keys: list[str], *, limit: int = 64) -> list[dict[str, Any]]:
    """Dicts in the DB holding all of `keys` (addresses, …): consistent values for a write."""
    found: list[dict[str, Any]] = []
    wanted = set(keys)

    def walk(value: Any) -> None:
        if len(found) >= limit:
            return
        if isinstance(value, dict):
            if wanted <= value.keys():
                found.append({k: value[k] for k in keys})
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for table in sorted(env.state.tables()):
        for _, record in zip(range(300), env.state[table].values(), strict=False):
            walk(record)
    return found


def _probe_reads(
    env: Environment, graph: ToolGraph, reads: list[Tool], table: str, key: str, rng: random.Random
) -> None:
    """Call every read reachable from one user's record (BFS, a few values per argument)."""
    book = FactBook()
    book.add_output(user_record(env, table, key), source=-1)
    done: set[tuple[str, Any]] = set()
    sweeps, source = 1, 0  # one more sweep for every read that succeeded
    while sweeps and source < 60:
        sweeps -= 1
        for read in reads:
            args = graph.required[read.name]
            choices = {a: [f.value for f in book.matching(a)][:3] for a in args}
            if any(not c for c in choices.values()):
                continue
            values = {a: rng.choice(c) for a, c in choices.items()}
            signature = (read.name, tuple(sorted(map(str, values.values()))))
            if signature in done:
                continue
            done.add(signature)
            result = env.run(ToolCall(name=read.name, arguments=values))
            if not result.ok:
                continue
            first = len(book.facts)
            book.add_output(parse_output(result.content), source=source, tool_name=read.name)
            graph.produces[read.name] |= {n for f in book.facts[first:] for n in f.names}
            source += 1
            sweeps += 1
