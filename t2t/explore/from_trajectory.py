"""Any explorer's trajectory (the LLM explorer's, an imported one) as a walk the pipeline can use.

The trajectory is replayed: reads become facts, writes become steps. Only successful calls
count; the identity is the first read of an identity tool that names the user; the replay ends at
a write that fails, breaks a rule, changes nothing or touches another user's records.
"""

from __future__ import annotations

from typing import Any

from t2t.core.environment import Environment
from t2t.core.schema import Trajectory
from t2t.explore.facts import FactBook
from t2t.explore.graph import ToolGraph
from t2t.explore.values import ValuePool
from t2t.explore.walk import Candidate, Origin, Walk, names_record, new_walk

__all__ = ["walk_from_trajectory"]


def walk_from_trajectory(
    env: Environment, graph: ToolGraph, pool: ValuePool, trajectory: Trajectory
) -> Walk | None:
    """Rebuild a walk from any explorer's trajectory (e.g. the LLM explorer's) by replaying it.

    Only successful calls count; a write that breaks a rule, fails or changes nothing ends the
    replay there. The first read is taken as the identity; values are traced to the reads that
    showed them, so the converter and the variants treat it like an offline walk.
    """
    if trajectory.user_id not in env.state[graph.user_table]:
        return None
    walk = new_walk(env, graph, pool, seed=trajectory.seed, user_id=trajectory.user_id)
    for call in trajectory.successful_calls:
        tool = env.domain.tools.get(call.name)
        if tool is None or tool.kind == "generic":
            continue
        if tool.kind == "read":
            reads = frozenset(
                f.source for v in call.arguments.values() for f in walk.book.facts if f.value == v
            )
            names_user = call.name in graph.identity_tools and _names(walk, call.arguments)
            if not walk.identity and not names_user:
                continue  # nothing is read for a user who has not been identified
            if walk.read(call.name, dict(call.arguments), reads) and not walk.identity:
                if trajectory.user_id in walk.results[-1].content:
                    walk.identity = dict(call.arguments)
            continue
        after = walk.outcome(call, walk.env)
        if after is None:
            break
        sources: set[int] = set()
        origins: dict[str, Origin] = {}
        for arg, value in call.arguments.items():
            values = value if isinstance(value, list) else [value]
            facts = [f for f in walk.book.facts if f.value in values and f.source >= 0]
            sources |= {f.source for f in facts}
            shown = _sources_of_records(walk.book, [v for v in values if isinstance(v, dict)])
            sources |= shown
            mine = all(v in walk.profile_values for v in values if _hashable(v))
            if shown:
                origins[arg] = "lookup"  # flights, passengers: records read, passed as objects
            elif not names_record(arg):
                origins[arg] = "free"  # a value the user states: an address, a reason, an amount
            else:
                origins[arg] = "profile" if mine else "lookup" if facts else "free"
        walk.apply(Candidate(call, walk.closure(sources), origins), after)
    return walk if walk.steps and walk.identity else None


def _names(walk: Walk, arguments: dict[str, Any]) -> bool:
    """Whether every argument is something the user knows about themselves."""
    return bool(arguments) and all(v in walk.profile_values for v in arguments.values())


def _sources_of_records(book: FactBook, wanted: list[dict[str, Any]]) -> set[int]:
    """The reads whose lists held records matching each of `wanted` (a subset of their fields)."""
    found = set()
    for record in wanted:
        for lists in book.lists.values():
            for source, items in lists:
                if any(record.items() <= item.items() for item in items if _flat(record)):
                    found.add(source)
                    break
    return found


def _flat(record: dict[str, Any]) -> bool:
    return all(_hashable(v) for v in record.values())


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | float)
