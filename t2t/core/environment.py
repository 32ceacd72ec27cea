"""A domain and a copy-on-write database: the environment every stage calls into.

A database is plain JSON data: a dict of tables, each a dict of records keyed by id (τ²'s `db.json`
layout). An `Environment` never mutates the loaded data. Tools read records straight from it and
get a private copy only of the records they write (`State.edit`), so `fork()` costs as much as the
records touched so far, `state_hash()` is updated from the touched records only, and `diff()` looks
at touched records only. This is what makes replay + verify of a task cost microseconds rather than
the deep copy of a whole DB per task that τ-bench and τ²-bench pay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from t2t.core.errors import ToolCallError
from t2t.core.schema import ToolCall, ToolResult
from t2t.core.tools import Rule, Tool

__all__ = [
    "Domain",
    "Environment",
    "RecordChange",
    "State",
    "TOOL_ERROR_PREFIX",
    "canonical_json",
    "normalize",
]

TOOL_ERROR_PREFIX = "Error: "  # how a failed call's result starts (what the agent is shown)
_MISSING: Any = object()  # overlay marker for a deleted record
_EMPTY: dict[str, Any] = {}
_HASH_MOD = 1 << 128


def normalize(value: Any) -> Any:
    """Canonical JSON data: drop None dict entries, every number as `round(float(x), 6)`."""
    kind = type(value)  # exact-type fast path: this runs over whole DBs when hashing them
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        return {k: normalize(v) for k, v in value.items() if v is not None}
    if kind is float or kind is int:
        return round(float(value), 6)
    if kind is list:
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return round(float(value), 6)
    return value


def canonical_json(value: Any) -> str:
    """The one serialisation used for hashing: normalised, sorted keys, compact, UTF-8."""
    return json.dumps(normalize(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _copy_json(value: Any) -> Any:
    """Deep copy of JSON data, ~5× faster than `copy.deepcopy` for the same result."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


def _record_hash(table: str, key: str, record_json: str) -> int:
    digest = hashlib.blake2b(f"{table}\x00{key}\x00{record_json}".encode(), digest_size=16)
    return int.from_bytes(digest.digest(), "big")


@dataclass
class Domain:
    """A business domain: tools, policy text, rules and how to load, generate and check its DB."""

    name: str
    tools: dict[str, Tool]
    policy: str = ""
    rules: list[Rule] = field(default_factory=list)
    validate_db: Callable[[dict[str, Any]], None] | None = None
    check_db: Callable[[dict[str, Any]], list[str]] | None = None
    generate_db: Callable[..., dict[str, Any]] | None = None
    scales: dict[str, dict[str, int]] = field(default_factory=dict)
    default_db: Callable[[], dict[str, Any]] | None = None
    folder: str | None = None
    user_table: str | None = None  # the table of the people who call, when tools.py names one

    def tool_schemas(self) -> list[dict[str, Any]]:
        return [t.openai_schema() for t in self.tools.values()]

    def is_write(self, name: str) -> bool:
        """Whether tool `name` changes the DB; an unknown name is not a write."""
        tool = self.tools.get(name)
        return tool is not None and tool.mutates

    @property
    def write_tools(self) -> frozenset[str]:
        return frozenset(name for name, tool in self.tools.items() if tool.mutates)

    def environment(self, db: dict[str, Any]) -> Environment:
        """A fresh environment over `db` (the dict is shared, never mutated)."""
        return Environment(self, db)


# --------------------------------------------------------------------------------------- state


class State:
    """The view of the database that tools receive: read freely, `edit` before writing.

    `state[table]` is a read-only mapping of that table; never mutate what it returns. `edit`
    returns this environment's private copy of a record, `insert` adds one, `delete` removes one.
    """

    __slots__ = ("_env",)

    def __init__(self, env: Environment) -> None:
        self._env = env

    def __getitem__(self, table: str) -> _TableView:
        if table not in self._env._root.tables:
            raise KeyError(table)
        return _TableView(self._env, table)

    def tables(self) -> list[str]:
        return list(self._env._root.tables)

    def edit(self, table: str, key: str) -> Any:
        return self._env._edit(table, key)

    def insert(self, table: str, key: str, record: Any) -> None:
        self._env._put(table, key, record)

    def delete(self, table: str, key: str) -> None:
        self._env._put(table, key, _MISSING)


class _TableView(Mapping[str, Any]):
    """A read-only merged view of one table: the loaded records plus this fork's overlay."""

    __slots__ = ("_base", "_env", "_table")

    def __init__(self, env: Environment, table: str) -> None:
        self._base = env._root.tables[table]
        self._env, self._table = env, table

    @property
    def _overlay(self) -> dict[str, Any]:  # looked up each time: a write may create it later
        return self._env._overlay.get(self._table) or _EMPTY

    def __getitem__(self, key: str) -> Any:
        if key in self._overlay:
            value = self._overlay[key]
            if value is _MISSING:
                raise KeyError(key)
            return value
        return self._base[key]

    def __contains__(self, key: object) -> bool:
        if key in self._overlay:
            return self._overlay[key] is not _MISSING
        return key in self._base

    def __iter__(self) -> Iterator[str]:
        for key in self._base:
            if self._overlay.get(key, None) is not _MISSING:
                yield key
        for key, value in self._overlay.items():
            if key not in self._base and value is not _MISSING:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def items(self) -> Any:  # fast paths: tools scan whole tables (find user by email, ...)
        if not self._overlay:
            return self._base.items()
        return ((key, self[key]) for key in self)

    def values(self) -> Any:
        if not self._overlay:
            return self._base.values()
        return (self[key] for key in self)


class _Root:
    """The loaded DB shared by an environment and all its forks, with per-record hashes cached."""

    def __init__(self, tables: dict[str, dict[str, Any]]) -> None:
        self.tables = tables
        self._json: dict[tuple[str, str], str] = {}
        self._hashes: dict[tuple[str, str], int] = {}
        self._total: int | None = None

    def record_json(self, table: str, key: str) -> str:
        cached = self._json.get((table, key))
        if cached is None:
            cached = self._json[(table, key)] = canonical_json(self.tables[table][key])
        return cached

    def record_hash(self, table: str, key: str) -> int:
        cached = self._hashes.get((table, key))
        if cached is None:
            cached = self._hashes[(table, key)] = _record_hash(
                table, key, self.record_json(table, key)
            )
        return cached

    def total_hash(self) -> int:
        if self._total is None:
            total = 0
            for table, records in self.tables.items():
                total += _record_hash(table, "", "")  # the set of tables is part of the state
                for key in records:
                    total += self.record_hash(table, key)
            self._total = total % _HASH_MOD
        return self._total


class RecordChange(BaseModel):
    """One record that differs between two states; `None` means absent on that side."""

    model_config = ConfigDict(frozen=True)

    table: str
    key: str
    before: Any = None
    after: Any = None


# --------------------------------------------------------------------------------- environment


class Environment:
    """A domain bound to a database state; `call` runs tools and never raises on a bad call."""

    def __init__(self, domain: Domain, db: dict[str, Any], *, _root: _Root | None = None) -> None:
        self.domain = domain
        self._root = _root or _Root(_as_tables(db))
        self._overlay: dict[str, dict[str, Any]] = {}
        self._owned: set[tuple[str, str]] = set()
        self._undo: list[tuple[str, str, Any, bool]] | None = None  # during a call only
        self._undo_keys: set[tuple[str, str]] = set()
        self.state = State(self)

    # ---- calls
    def call(self, name: str, /, **arguments: Any) -> ToolResult:
        """Run one tool; unknown tools, bad arguments and refusals come back as `ok=False`."""
        return self.run(ToolCall(name=name, arguments=arguments))

    def run(self, call: ToolCall) -> ToolResult:
        """Run a `ToolCall` atomically: a refused call leaves the state exactly as it was."""
        spec = self.domain.tools.get(call.name)
        if spec is None:
            return _error(call, f"Tool '{call.name}' not found.")
        try:
            arguments = spec.arguments.model_validate(call.arguments)
        except ValidationError as exc:
            return _error(call, _describe_validation(call.name, exc))
        self._undo = []
        try:
            output = spec.func(self.state, **dict(arguments))
        except ToolCallError as exc:
            self._rollback()
            return _error(call, str(exc))
        except BaseException:  # a bug in the tool: undo its partial writes, keep the traceback
            self._rollback()
            raise
        finally:
            self._undo = None
            self._undo_keys.clear()
        content = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
        return ToolResult(call_id=call.id, name=call.name, ok=True, content=content)

    def check_rules(self, call: ToolCall) -> list[tuple[str, str]]:
        """The policy rules this call would break in the current state, as (rule, reason) pairs.

        Rules see the arguments as the tool would (validated and coerced, e.g. "20" → 20), so a
        number sent as a string cannot slip past them; a call the tool would refuse breaks none.
        """
        spec = self.domain.tools.get(call.name)
        if spec is not None:
            try:
                checked = spec.arguments.model_validate(call.arguments)
            except ValidationError:
                return []
            call = ToolCall(name=call.name, arguments=checked.model_dump(), id=call.id)
        broken = []
        for r in self.domain.rules:
            if call.name in r.tools:
                reason = r.check(self.state, call)
                if reason:
                    broken.append((r.name, reason))
        return broken

    # ---- copy-on-write
    def fork(self) -> Environment:
        """A child environment sharing all untouched records with this one; O(records touched)."""
        child = Environment(self.domain, {}, _root=self._root)
        child._overlay = {table: dict(records) for table, records in self._overlay.items()}
        self._owned = set()  # records are now shared: both sides copy before the next write
        return child

    def _get(self, table: str, key: str) -> Any:
        records = self._overlay.get(table)
        if records is not None and key in records:
            return records[key]
        return self._root.tables[table].get(key, _MISSING)

    def _edit(self, table: str, key: str) -> Any:
        if (table, key) in self._owned:
            record = self._overlay[table][key]
            if record is _MISSING:
                raise KeyError(f"{table}[{key!r}]")
            if self._undo is not None and (table, key) not in self._undo_keys:
                # edited in place from here on: keep a copy so a refusal can restore it
                self._undo.append((table, key, _copy_json(record), True))
                self._undo_keys.add((table, key))
            return record
        current = self._get(table, key)
        if current is _MISSING:
            raise KeyError(f"{table}[{key!r}]")
        copy = _copy_json(current)
        self._set(table, key, copy)
        return copy

    def _put(self, table: str, key: str, record: Any) -> None:
        if table not in self._root.tables:
            raise KeyError(table)
        # a private copy: the caller may pass a record it read (shared) or mutate it later
        self._set(table, key, record if record is _MISSING else _copy_json(record))

    def _set(self, table: str, key: str, value: Any) -> None:
        records = self._overlay.setdefault(table, {})
        if self._undo is not None:
            self._undo.append((table, key, records.get(key, _UNSET), (table, key) in self._owned))
            self._undo_keys.add((table, key))
        records[key] = value
        self._owned.add((table, key))

    def _rollback(self) -> None:
        for table, key, previous, owned in reversed(self._undo or []):
            if previous is _UNSET:
                del self._overlay[table][key]
            else:
                self._overlay[table][key] = previous
            if not owned:
                self._owned.discard((table, key))

    # ---- inspection
    def touched(self) -> set[tuple[str, str]]:
        """Records this state holds its own version of (possibly equal to the loaded one)."""
        return {(t, k) for t, records in self._overlay.items() for k in records}

    def state_hash(self) -> str:
        """Canonical hash of the whole DB, updated from touched records only."""
        root = self._root
        total = root.total_hash()
        for table, records in self._overlay.items():
            base = root.tables[table]
            for key, value in records.items():
                if key in base:
                    total -= root.record_hash(table, key)
                if value is not _MISSING:
                    total += _record_hash(table, key, canonical_json(value))
        return f"{total % _HASH_MOD:032x}"

    def db_sha256(self) -> str:
        """sha256 of the canonical JSON of the whole DB (τ²-interop hash; see `t2t.tasks.tau2`).

        Equal to `sha256(canonical_json(self.to_dict()))`, but untouched records reuse their
        cached serialisation, so it costs a pass over keys rather than a full dump.
        """
        root, touched, digest = self._root, self.touched(), hashlib.sha256()
        digest.update(b"{")
        for t_index, table in enumerate(sorted(root.tables)):
            digest.update(
                f"{',' if t_index else ''}{json.dumps(table, ensure_ascii=False)}:{{".encode()
            )
            first = True
            for key in sorted(_TableView(self, table)):
                value = self._get(table, key)
                if value is None:
                    continue  # normalisation drops None entries
                text = (
                    canonical_json(value)
                    if (table, key) in touched
                    else root.record_json(table, key)
                )
                digest.update(
                    f"{'' if first else ','}{json.dumps(key, ensure_ascii=False)}:{text}".encode()
                )
                first = False
            digest.update(b"}")
        digest.update(b"}")
        return digest.hexdigest()

    def diff(self, other: Environment) -> list[RecordChange]:
        """Records whose normalised content differs between `self` (before) and `other` (after)."""
        if other._root is self._root:
            keys = sorted(self.touched() | other.touched())
        else:
            tables = set(self._root.tables) | set(other._root.tables)
            keys = sorted(
                (t, k) for t in tables for k in set(self._table_keys(t)) | set(other._table_keys(t))
            )
        changes = []
        for table, key in keys:
            before, after = self._lookup(table, key), other._lookup(table, key)
            if canonical_json(before) != canonical_json(after):  # the hash's notion of equal
                changes.append(
                    RecordChange(
                        table=table, key=key, before=_copy_json(before), after=_copy_json(after)
                    )
                )
        return changes

    def _table_keys(self, table: str) -> Iterator[str]:
        return iter(_TableView(self, table)) if table in self._root.tables else iter(())

    def _lookup(self, table: str, key: str) -> Any:
        if table not in self._root.tables:
            return None
        value = self._get(table, key)
        return None if value is _MISSING else value

    def to_dict(self) -> dict[str, Any]:
        """The whole DB as plain JSON data in its loaded layout (a full copy: for export only)."""
        return {
            table: {key: _copy_json(self._get(table, key)) for key in _TableView(self, table)}
            for table in self._root.tables
        }


_UNSET: Any = object()  # undo-log marker: the record was not in this overlay before the call


def _as_tables(db: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if not isinstance(db, dict):
        raise TypeError("a database must be a JSON object of tables")
    for name, table in db.items():
        if not isinstance(table, dict):
            raise TypeError(f"table {name!r} must be a JSON object of records keyed by id")
    return db


def _error(call: ToolCall, message: str) -> ToolResult:
    return ToolResult(
        call_id=call.id,
        name=call.name,
        ok=False,
        content=f"{TOOL_ERROR_PREFIX}{message}",
        error=message,
    )


def _describe_validation(name: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        problems.append(f"{where}: {err['msg']}")
    return f"Invalid arguments for {name}: " + "; ".join(problems)
