"""The offline graph explorer: a goal-directed, seeded walk from one real user to 1–3 writes.

A walk authenticates the user with what they know, reads their profile, then for each write
picks a write tool and fills its arguments from facts read so far (reading more on demand along
the tool graph: an order's details, then the products of its items), checks the call against
the domain's policy rules and keeps it only if it succeeds and changes the state. Failed tries
happen on forks and never enter the trajectory. The same walker samples alternative and
rule-breaking calls for the intent variants, so both share one notion of "a plausible call".
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from t2t.core.environment import Domain, Environment, canonical_json
from t2t.core.schema import ToolCall, ToolResult, Trajectory
from t2t.explore.facts import Fact, FactBook, arg_matches, parse_output
from t2t.explore.graph import ToolGraph, user_record
from t2t.explore.linking import (
    LINKED_BIAS,
    context_of,
    first_seen,
    is_linked,
    pick_linked,
    same_stem,
    type_ok,
)
from t2t.explore.values import ValuePool, arguments_schema, resolve_schema

__all__ = [
    "Candidate",
    "Origin",
    "Walk",
    "WriteStep",
    "explore_offline",
    "names_record",
    "new_walk",
    "without_repeated_reads",
]

Origin = Literal["identity", "profile", "lookup", "free"]
_LIST_LENGTHS = ((1, 2, 3), (0.7, 0.25, 0.05))
_WRITES_PER_WALK = ((1, 2, 3), (0.6, 0.3, 0.1))
_QUOTED = re.compile(r"'([^']{2,40})'")


@dataclass(frozen=True)
class Candidate:
    """A write call with where each argument value came from and the reads that support it."""

    call: ToolCall
    sources: frozenset[int]
    origins: dict[str, Origin]


@dataclass
class WriteStep:
    """One accepted write: its index in the walk's calls and the states around it."""

    index: int
    before: Environment
    after: Environment
    candidate: Candidate


@dataclass
class Walk:
    """A walk in progress or done: every successful call, the facts read, the writes made."""

    env: Environment
    graph: ToolGraph
    pool: ValuePool
    seed: int
    user_id: str
    calls: list[ToolCall] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    parents: dict[int, frozenset[int]] = field(default_factory=dict)
    book: FactBook = field(default_factory=FactBook)
    steps: list[WriteStep] = field(default_factory=list)
    identity: dict[str, Any] = field(default_factory=dict)
    profile: set[int] = field(default_factory=set)
    profile_values: set[Any] = field(default_factory=set)
    own: FactBook = field(default_factory=FactBook)  # the user's own record, as they know it
    versions: dict[int, int] = field(default_factory=dict)  # read index → writes applied before
    _detailed: set[tuple[Any, ...]] = field(default_factory=set)

    @property
    def domain_name(self) -> str:
        return self.env.domain.name

    @property
    def version(self) -> int:
        """How many of the walk's writes the current state has seen (variants step back)."""
        for number, step in enumerate(self.steps):
            if self.env is step.before:
                return number
        return len(self.steps)

    def read_rank(self, version: int) -> Callable[[int], int | None]:
        """How recent a read is as of `version`; None for reads made after it (a later state)."""

        def rank(source: int) -> int | None:
            seen = self.versions.get(source, -1)
            return seen if seen <= version else None

        return rank

    # ---- reads
    def read(self, name: str, arguments: dict[str, Any], parents: frozenset[int]) -> bool:
        """Run a read on the current state; on success index its output as facts."""
        call = ToolCall(name=name, arguments=arguments)
        result = self.env.run(call)
        if not result.ok:
            return False
        index = len(self.calls)
        self.calls.append(call)
        self.results.append(result)
        self.parents[index] = parents
        self.versions[index] = self.version
        self.book.add_output(
            parse_output(result.content), source=index, tool_name=name, args=arguments.values()
        )
        return True

    def closure(self, sources: set[int] | frozenset[int]) -> frozenset[int]:
        """`sources` plus every read that supplied their arguments, transitively."""
        done: set[int] = set()
        todo = [s for s in sources if s >= 0]
        while todo:
            index = todo.pop()
            if index not in done:
                done.add(index)
                todo += [p for p in self.parents.get(index, ()) if p >= 0]
        return frozenset(done)

    def _fill_read(self, name: str, linked: set[Any], rng: random.Random) -> bool:
        values, parents = {}, set()
        for arg in self.graph.required[name]:
            facts = self.book.matching(arg)
            if not facts:
                return False
            fact = pick_linked(facts, linked, rng)
            values[arg] = fact.value
            parents.add(fact.source)
        key = (name, tuple(sorted(map(str, values.values()))))
        if key in self._detailed:
            return False
        self._detailed.add(key)
        return self.read(name, values, frozenset(parents))

    def expand(self, arg: str, linked: set[Any], rng: random.Random) -> bool:
        """Read something whose output can fill `arg` (the graph's edges), linked values first."""
        reads = [r for r in self.graph.read_tools if self.graph.feeds(r, arg)]
        rng.shuffle(reads)
        return any(self._fill_read(r, linked, rng) for r in reads)

    def detail(self, arg: str, value: Any) -> None:
        """Read the record behind an id the first time it is used (check an order before acting)."""
        for name in self.graph.read_tools:
            required = self.graph.required[name]
            if len(required) == 1 and arg_matches(arg, required[0]) or required == [arg]:
                key = (name, (str(value),), len(self.steps))  # again after each write
                if key not in self._detailed:
                    self._detailed.add(key)
                    shown = first_seen(self.book.matching(arg), [value])
                    self.read(name, {required[0]: value}, frozenset(shown))
                return

    # ---- writes
    def fill(
        self, name: str, rng: random.Random, *, fixed: dict[str, Any] | None = None
    ) -> Candidate | None:
        """Arguments for `name` from facts (linked to each other where possible) or free values."""
        schema = arguments_schema(self.env.domain.tools[name].arguments)
        defs, required = schema.get("$defs", {}), set(schema.get("required", []))
        args: dict[str, Any] = {}
        origins: dict[str, Origin] = {}
        sources: set[int] = set()
        linked: set[Any] = set()
        per_element: dict[str, list[Fact]] = {}
        donors = self.graph.donors.get(name)
        donor = rng.choice(donors) if donors else {}
        for arg, raw in schema.get("properties", {}).items():
            sub = resolve_schema(raw, defs)
            if fixed and arg in fixed:
                value = args[arg] = fixed[arg]
                values = value if isinstance(value, list) else [value]
                mine = all(v in self.profile_values for v in values)
                origins[arg] = "profile" if mine else "lookup"
                if not isinstance(value, list):
                    self.detail(arg, value)
                for fact in self.book.matching(arg):
                    if fact.value in values:
                        linked.update(context_of(fact, self.book))
                sources |= first_seen(self.book.matching(arg), values)
                continue
            if arg not in required and rng.random() < 0.7:
                continue
            kind = sub.get("type")
            if arg in donor:
                args[arg], origins[arg] = donor[arg], "free"
            elif kind == "array" and sub.get("items", {}).get("type") == "object":
                value = self._object_list(arg, sub["items"], linked, rng, sources)
                if value is None:
                    return None
                args[arg], origins[arg] = value, "lookup"
            elif kind == "array":
                partner = next((p for p in per_element if same_stem(p, arg)), None)
                if partner is not None:
                    chosen = self.pair_list(arg, sub.get("items", {}), per_element[partner], rng)
                else:
                    facts = self._facts_for(arg, sub.get("items", {}), linked, rng)
                    chosen = self._pick_list(facts, linked, rng) if facts else []
                if not chosen:
                    if names_record(arg):
                        return None
                    args[arg], origins[arg] = self.pool.pick(arg, sub, rng), "free"
                    continue
                per_element[arg] = chosen
                args[arg] = [f.value for f in chosen]
                origins[arg] = self._origin(chosen[0]) if names_record(arg) else "free"
                for fact in chosen:
                    sources.add(fact.source)
                    linked.update(context_of(fact, self.book))
            else:
                facts = self._facts_for(arg, sub, linked, rng)
                free_ok = not arg.endswith("_id") and ("enum" in sub or rng.random() < 0.6)
                if names_record(arg) and not facts:
                    return None
                if not facts or free_ok:
                    args[arg], origins[arg] = self._free_value(arg, sub, rng), "free"
                    continue
                fact = pick_linked(facts, linked, rng)
                args[arg] = fact.value
                origins[arg] = self._origin(fact) if names_record(arg) else "free"
                sources |= first_seen(facts, [fact.value])
                self.detail(arg, fact.value)
                linked.update(context_of(fact, self.book))
                for record_fact in self.book.matching(arg):
                    if record_fact.value == fact.value and record_fact.record:
                        linked.update(context_of(record_fact, self.book))
        call = ToolCall(name=name, arguments=args)
        return Candidate(call, self.closure(sources), origins)

    def _free_value(self, arg: str, schema: dict[str, Any], rng: random.Random) -> Any:
        """A value the user states; a docstring that quotes the allowed values is taken at its word
        ("the reason, either 'no longer needed' or 'ordered by mistake'").
        """
        quoted = _QUOTED.findall(schema.get("description") or "")
        if schema.get("type") == "string" and len(quoted) >= 2 and rng.random() < 0.9:
            return rng.choice(quoted)
        same_field = self.pool.values.get(arg) or self.pool.values.get(arg.removeprefix("new_"))
        if same_field and "enum" not in schema and type_ok(same_field[0], schema.get("type")):
            return rng.choice(same_field)  # never another field's value (an id as a bank name)
        return self.pool.pick(arg, schema, rng)

    def _origin(self, fact: Fact) -> Origin:
        return "profile" if fact.value in self.profile_values else "lookup"

    def _facts_for(
        self, arg: str, schema: dict[str, Any], linked: set[Any], rng: random.Random
    ) -> list[Fact]:
        kind = schema.get("type")
        facts = [f for f in self.book.matching(arg) if type_ok(f.value, kind)]
        unlinked = bool(linked) and not any(is_linked(f, linked, self.book) for f in facts)
        if arg.endswith(("_id", "_ids")) and (not facts or unlinked):
            if self.expand(arg, linked, rng):
                facts = [f for f in self.book.matching(arg) if type_ok(f.value, kind)]
        return facts

    def _pick_list(self, facts: list[Fact], linked: set[Any], rng: random.Random) -> list[Fact]:
        linked_facts = [f for f in facts if is_linked(f, linked, self.book)]
        pool = linked_facts if linked_facts and rng.random() < LINKED_BIAS else facts
        distinct = list({f.value: f for f in pool}.values())
        k = min(rng.choices(*_LIST_LENGTHS)[0], len(distinct))
        return rng.sample(distinct, k)

    def pair_list(
        self, arg: str, schema: dict[str, Any], partners: list[Fact], rng: random.Random
    ) -> list[Fact]:
        """Element-wise partners (`new_item_ids` for `item_ids`): facts read about each old one."""
        chosen = []
        for old in partners:
            near_old = set(old.near) or {old.value}
            facts = [f for f in self.book.matching(arg) if type_ok(f.value, schema.get("type"))]
            near = [f for f in facts if f.value != old.value and is_linked(f, near_old, self.book)]
            if not near and self.expand(arg, near_old, rng):
                facts = self.book.matching(arg)
                near = [
                    f for f in facts if f.value != old.value and is_linked(f, near_old, self.book)
                ]
            pool = near or [f for f in facts if f.value != old.value]
            if not pool:
                return []
            chosen.append(rng.choice(pool))
        return chosen

    def _object_list(
        self,
        arg: str,
        item_schema: dict[str, Any],
        linked: set[Any],
        rng: random.Random,
        sources: set[int],
    ) -> list[dict[str, Any]] | None:
        props = list(item_schema.get("properties", {}))
        need = set(item_schema.get("required", props))
        lists = [
            (source, items)
            for key, found in self.book.lists.items()
            if arg_matches(arg, key) or key == arg
            for source, items in found
            if all(need <= item.keys() for item in items)
        ]
        if not lists:
            return None
        near = [x for x in lists if self.book.source_args.get(x[0], set()) & linked]
        source, items = rng.choice(near if near and rng.random() < LINKED_BIAS else lists)
        value = [{k: item[k] for k in props if k in item} for item in items]
        sources.add(source)
        if rng.random() < 0.5:  # swap one element for another record of the same shape
            others = [
                (s, item)
                for found in self.book.lists.values()
                for s, group in found
                for item in group
                if need <= item.keys() and {k: item[k] for k in props if k in item} not in value
            ]
            if others:
                s, other = rng.choice(others)
                value[rng.randrange(len(value))] = {k: other[k] for k in props if k in other}
                sources.add(s)
        return value

    def try_write(
        self, name: str, rng: random.Random, *, env: Environment, attempts: int
    ) -> tuple[Candidate, Environment] | None:
        """The first sampled call of `name` that keeps to the rules, succeeds and changes `env`.

        Tries spread over the records the call could be about (each of the user's orders in turn),
        so one unsuitable record does not use up every try.
        """
        anchors = self.anchor_values(name)
        rng.shuffle(anchors)
        for attempt in range(attempts):
            fixed = dict([anchors[attempt % len(anchors)]]) if anchors else None
            candidate = self.fill(name, rng, fixed=fixed)
            if candidate is None:
                continue
            after = self.outcome(candidate.call, env)
            if after is not None:
                return candidate, after
        return None

    def anchor_values(self, name: str) -> list[tuple[str, Any]]:
        """(argument, value) pairs for the first id argument of `name` that is not the user's."""
        own = self.graph.user_key
        for arg in self.graph.required[name]:
            if arg.endswith("_id") and arg != own:
                values = list(dict.fromkeys(f.value for f in self.book.matching(arg)))
                if not values and self.expand(arg, set(), random.Random(0)):
                    values = list(dict.fromkeys(f.value for f in self.book.matching(arg)))
                return [(arg, v) for v in values]
        return []

    def outcome(self, call: ToolCall, env: Environment) -> Environment | None:
        """The state after `call` if it keeps to the rules, succeeds and changes something."""
        if env.check_rules(call) or self.foreign(call):
            return None
        after = env.fork()
        if not after.run(call).ok or after.state_hash() == env.state_hash():
            return None
        return after

    def foreign(self, call: ToolCall) -> bool:
        """Whether the call names a record that belongs to another user (by its user id field)."""
        key = self.graph.user_key
        for arg, value in call.arguments.items():
            if names_record(arg) and arg != key:
                for item in value if isinstance(value, list) else [value]:
                    record = self.book.record_of(item, arg)
                    if record and record.get(key) not in (None, self.user_id):
                        return True
        return bool(call.arguments.get(key) not in (None, self.user_id))

    def apply(self, candidate: Candidate, after: Environment) -> None:
        index = len(self.calls)
        self.calls.append(candidate.call)
        self.results.append(ToolResult(name=candidate.call.name, ok=True, content="ok"))
        self.steps.append(WriteStep(index, self.env, after, candidate))
        self.env = after

    # ---- outputs
    def calls_for(self, writes: list[tuple[float, Candidate]]) -> list[ToolCall]:
        """Identity and profile reads, then the writes at their positions, each after its reads.

        Calls keep the order they were made in, so every read sees the state it saw while
        exploring; a write sampled later (a variant's) is placed by its `position`. A
        read identical to an earlier one (the same order read again after a write) is left out.
        """
        indices = {0, *self.profile}
        for _, write in writes:
            indices |= write.sources
        placed = [(float(i), self.calls[i]) for i in indices]
        placed += [(position, write.call) for position, write in writes]
        ordered = [call for _, call in sorted(placed, key=lambda pair: pair[0])]
        return without_repeated_reads(ordered, self.env.domain)

    def base_writes(self) -> list[tuple[float, Candidate]]:
        return [(float(step.index), step.candidate) for step in self.steps]

    def trajectory(self, trajectory_id: str) -> Trajectory:
        calls = self.calls_for(self.base_writes())
        return Trajectory(
            id=trajectory_id,
            domain=self.domain_name,
            seed=self.seed,
            user_id=self.user_id,
            calls=calls,
            results=[ToolResult(name=c.name, ok=True, content="") for c in calls],
        )


def without_repeated_reads(calls: list[ToolCall], domain: Domain) -> list[ToolCall]:
    """`calls` without a read identical to an earlier one (the same order read again after a
    write): it adds nothing to a gold, whose reads only show where values come from.
    """
    kept: list[ToolCall] = []
    seen: set[tuple[str, str]] = set()
    for call in calls:
        key = (call.name, canonical_json(call.arguments))
        if key in seen and not domain.is_write(call.name):
            continue
        seen.add(key)
        kept.append(call)
    return kept


def names_record(arg: str) -> bool:
    """Ids are only ever taken from what was read, never made up."""
    return arg.endswith(("_id", "_ids"))


def new_walk(
    env: Environment, graph: ToolGraph, pool: ValuePool, *, seed: int, user_id: str
) -> Walk:
    """An empty walk for `user_id`, knowing which values are the user's own."""
    walk = Walk(env=env, graph=graph, pool=pool, seed=seed, user_id=user_id)
    walk.own.add_output(user_record(env, graph.user_table, user_id), source=-1)
    walk.profile_values = walk.own.values() | {user_id}
    return walk


def explore_offline(
    env: Environment,
    graph: ToolGraph,
    pool: ValuePool,
    *,
    seed: int,
    writes: int | None = None,
    attempts: int = 16,
    user_id: str | None = None,
) -> Walk | None:
    """One seeded walk from a random user (or `user_id`) to 1–3 accepted writes; None if none."""
    rng = random.Random(seed)
    chosen = rng.choice(graph.user_keys)
    walk = new_walk(env, graph, pool, seed=seed, user_id=user_id or chosen)
    own = walk.own
    own_key = [n for n in graph.identity_tools if any(a.endswith("_id") for a in graph.required[n])]
    by_what_they_know = [n for n in graph.identity_tools if n not in own_key]
    for name in rng.sample(by_what_they_know, len(by_what_they_know)) + own_key:
        values = {}
        for arg in graph.required[name]:
            facts = [f for f in own.matching(arg) if isinstance(f.value, str)]
            if not facts:
                break
            values[arg] = facts[0].value
        else:
            if walk.read(name, values, frozenset()):
                walk.identity = values
                walk._detailed.add((name, tuple(sorted(map(str, values.values())))))
                break
    if not walk.calls:
        return None
    first = walk.calls[0].name
    for name in graph.read_tools:  # the profile: what the identity's answer unlocks
        required = graph.required[name]
        if name == first or (name in graph.identity_tools and name not in own_key):
            continue
        if required and all(any(f.source == 0 for f in walk.book.matching(a)) for a in required):
            if walk._fill_read(name, set(), rng):
                walk.profile.add(len(walk.calls) - 1)
    states = {env.state_hash()}
    for _ in range(writes or rng.choices(*_WRITES_PER_WALK)[0]):
        used = {step.candidate.call.name for step in walk.steps}
        order = [n for n in rng.sample(graph.write_tools, len(graph.write_tools)) if n not in used]
        for name in order:  # one write per tool: a second would mostly redo the first
            found = walk.try_write(name, rng, env=walk.env, attempts=attempts)
            if found and found[1].state_hash() not in states:  # not undoing an earlier write
                walk.apply(*found)
                states.add(found[1].state_hash())
                break
    return walk if walk.steps else None
